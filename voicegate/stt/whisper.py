"""``FasterWhisperSTT``: local Whisper (CTranslate2), decoding a window fitted to the utterance.

Whisper encodes 30 s windows: a 1 s answer padded to 30 s pays about 300 ms of encoder time
for silence. Here an utterance is decoded in a window of its own length plus
``window_margin`` (2 s), at least ``MIN_WINDOW_SECONDS`` (5 s); its encoder pass costs about
a tenth of the 30 s one (28 ms against 298 ms for a 6 s window, on 2 cores; a decoded token
costs 5-10 ms, a single word about seven). How, chosen on
the 551 real recordings of ``benchmarks/wer.py``:

- **Pad the audio, not the features.** Whisper was trained on audio padded with zeros, whose
  log-Mel frames sit at the utterance's floor (its loudest level minus 80 dB). faster-whisper
  pads the *features* with 0 instead, a mid-level constant: harmless in a 30 s window, but in
  a short one Whisper reads it as speech still going on and says the word again and again
  ("fifty" came back as "50" thirteen times; 40% WER, 1,149 of 1,330 errors insertions).
  Padding the audio alone cut the loops by half; a 10 s margin alone did not stop them.
- **A token budget bounded by the audio**, in two steps: ``FIRST_BUDGET`` (4 tokens plus 4.5
  a second: the prompts over 2 s needed a median of 3.6 and a p95 of 4.6 a second, timestamps
  included), then, only if that ran out before the text reached the audio's end, the same
  encoding decoded again with ``FULL_BUDGET`` (6 plus 7 a second; the most any prompt needed
  was 5.8). A tight first budget matters: every token of a restart is thrown away.
- **A loop said once.** A decode that runs out of its budget saying one phrase again and
  again (``"11. 11. 11. 11"``, ``"No more messages. No more messages. No"``) is kept as
  that phrase said once (:func:`~voicegate.stt.whisper_tokens.opening_copy`), with no second
  budget step: 18 of the 39 prompts that fell back at 16 kHz (14 of 38 at 8 kHz), each
  with the words the 30 s decode gives. Only a run-out text qualifies: a real "no, no" ends
  within its budget.
- **Check, then fall back.** Any other result is kept unless it looks like a failed decode:
  a word or phrase twice in a row, an ending that says the text's opening again (a restart
  cut short: ``"Parking attempt failed. Parking attempt"``), a text the full budget left
  short of the audio's end, an average log-probability under -1.2, or a confident text
  where the model also thinks nobody spoke (its "you" on silence). Such an utterance, about
  one in twenty-five of the prompts and mostly single words, is decoded again by
  faster-whisper's own 30 s path, whose result it then is exactly.
- **Half the cores.** ``cpu_threads`` defaults to half the CPU cores (at least one): at the
  end of a turn the pass over the speech so far runs beside Smart Turn, and on 2 cores a
  1.5-2 s utterance took 160 ms on one thread against 189 ms on two (88 ms alone either
  way); ``voicegate bench``, one caller, three runs each alternating: first answer audio
  p50 251 against 300 ms. Two threads decode an 18 s utterance alone 10% faster.
- **Features without a thread pool.** The log-Mel features come from
  :class:`~voicegate.stt.log_mel.LogMel`, equal to faster-whisper's extractor to float32
  rounding, whose Mel projection (a matrix product) waited on OpenBLAS's threads: at load
  average 10 on 2 cores, a median of 9, 19 and 59 ms for 1, 3 and 8 s of audio, against
  0.6, 1.4 and 18 ms here (the fastest of 40 runs, the arithmetic: 0.4-11 ms against
  0.5-6.5 ms).
- **Against the 30 s decode.** In the README's run (all 551 prompts, load average 8-18) the
  short window's errors equal the 30 s decode's at 16 kHz (172 and 172 of 3,292 words) and
  are fewer at 8 kHz (201 against 204); the 30 s decode's own runs gave 172-173 and
  203-204. Its texts still differ on about 40 prompts, both ways, and which way is chaotic
  rather than a setting: this module's features, within 1.2e-7 of faster-whisper's, changed
  33 of the short window's texts at 16 kHz, 174 errors becoming 172.

What was measured and rejected is in the README ("Recognition on real speech").

**Batches.** Utterances recognised together (:meth:`FasterWhisperSTT.recognise_batch`, the
finals or partials that wait together) whose windows have the same length share one decoder
call per budget step: every utterance under 3 s (most turns of a conversation) has the 5 s
window. Each is encoded alone: on 2 loaded CPU cores one encoder call for six 5 s windows
took 0.8-1.2 s against 0.6 s for the six calls one by one, while one decoder call for the six
took 0.2-0.8 s against 0.6-1.1 s. The token budget is the largest of theirs and each result
is cut back to its own budget, so an utterance decodes to the tokens it would alone (keeping
the longer decode's score). Windows are not padded to a common length: a longer window
changes the decode (an espeak-ng Spanish sentence came back with other words). Fallbacks to
the 30 s path run one by one; a batch of finals leaves them out (``leave_slow``), each then
recognised alone as the worker's next job (:class:`WorkerSTT`), so the others need not wait.

**Prompts.** A prompt (:meth:`~voicegate.stt.base.STTProvider.transcribe`) goes before
the task's tokens as Whisper's text of the audio before (faster-whisper's
``initial_prompt``), in both decodes; utterances with different prompts are decoded in
separate calls. Its tokens take room in CTranslate2's ``max_length``, which is set so the
decode stops at the budget: with room for the budget plus the prompt, a partial of a short
"no" kept decoding what the budget then threw away and took 90 ms instead of 55.

Segments that start where the audio ends are dropped (the model restarting the utterance),
and so are segments without a word ("..."). Silence and steady noise never reach the model
(:mod:`voicegate.audio.noise`): Whisper makes words up in them.
``window_margin=None`` selects faster-whisper's 30 s path for everything.

Every model runs this decode. A multilingual one (Whisper base) decodes in the language it
is given, else in the one it detects from the same short-window encoding (right for 6 of 8
espeak-ng sentences in 4 languages; over the 30 s window, 5, at ten times the cost); an
English-only one (tiny.en) always in English.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper.tokenizer import _LANGUAGE_CODES

from voicegate.audio.frame import AudioFrame
from voicegate.audio.noise import is_steady_noise
from voicegate.catalog import DEFAULT_STT_MODEL, resolve_model
from voicegate.stt.base import Transcript, TranscriptSegment, UnsupportedLanguageError
from voicegate.stt.log_mel import LogMel
from voicegate.stt.text import words
from voicegate.stt.whisper_tokens import (
    checked_segments,
    decoder_start,
    opening_copy,
    reaches_end,
)
from voicegate.stt.worker import GPU_MAX_BATCH, PARTIAL_BUSY_LIMIT, Utterance, WorkerSTT

Heard = tuple[str, list[TranscriptSegment] | None]
"""The language an utterance was recognised in, and its segments (None: the short-window
decode failed, the 30 s one gives them)."""

FRAMES_PER_SECOND = 100
"""Log-Mel frames per second of audio (a 10 ms hop)."""
FULL_WINDOW_SECONDS = 30.0
MIN_WINDOW_SECONDS = 5.0
FIRST_BUDGET = (4, 4.5)
FULL_BUDGET = (6, 7.0)
MAX_TOKENS = 224
"""Whisper's own cap on decoded tokens (half its 448-token text context)."""
MULTILINGUAL_VOCABULARY = 51865
"""Whisper's multilingual models have this many tokens or more (English-only: 51,864)."""
ENGLISH = "en"
LANGUAGE_CODES = frozenset(_LANGUAGE_CODES)
"""Every language a multilingual Whisper knows (ISO 639-1 codes, plus ``haw`` and ``yue``)."""


class FasterWhisperSTT(WorkerSTT):
    """Whisper through faster-whisper, loaded once and shared by every session.

    ``model`` is a manifest id or the path of a CTranslate2 Whisper folder. The model
    loads on the worker thread at the first call; call :meth:`warm_up` at start-up.
    ``device`` is ``cpu``, ``cuda`` or ``auto`` (CUDA when CTranslate2 finds a GPU).
    ``language`` is the default of every call: an English-only model always hears
    English; a multilingual one detects each utterance's language unless told one.
    Transcriptions take turns on that thread (:class:`WorkerSTT`): finals wait in order (at
    most ``max_queue`` of them), partials run only when no final waits; up to ``max_batch``
    that wait together are recognised in one batched call (None: 1 on the CPU,
    :data:`~voicegate.stt.worker.GPU_MAX_BATCH` on CUDA); partials but speculative ones are
    skipped while the worker was busier than ``partial_busy_limit`` (see :class:`WorkerSTT`).
    """

    def __init__(
        self,
        model: str = DEFAULT_STT_MODEL,
        *,
        device: str = "auto",
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 1,
        language: str | None = None,
        window_margin: float | None = 2.0,
        max_queue: int = 256,
        max_batch: int | None = None,
        partial_busy_limit: float | None = PARTIAL_BUSY_LIMIT,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.device = resolve_device(device)
        if max_batch is None:
            max_batch = GPU_MAX_BATCH if self.device == "cuda" else 1
        super().__init__(f"stt-{model}", max_queue, max_batch, partial_busy_limit)
        self.model_name = model
        self.model_path = resolve_model(model, "stt")
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads or max(1, (os.cpu_count() or 1) // 2)
        self.beam_size = beam_size
        self.multilingual = _vocabulary_size(self.model_path) >= MULTILINGUAL_VOCABULARY
        self.languages = frozenset(LANGUAGE_CODES if self.multilingual else (ENGLISH,))
        if language is not None and language not in self.languages:
            raise UnsupportedLanguageError(self._unsupported(language))
        self.language = language
        self.window_margin = window_margin
        self._model: Any = None
        self._log_mel: LogMel | None = None
        self._tokenizers: dict[str, Any] = {}

    def supports_language(self, language: str) -> bool:
        """Whether the model knows ``language`` (an ISO 639-1 code, as Whisper names them)."""
        return language in self.languages

    def check_language(self, language: str | None) -> None:
        """Raise :class:`UnsupportedLanguageError` for a language the model does not know."""
        if language is not None and language not in self.languages:
            raise UnsupportedLanguageError(self._unsupported(language))

    def recognise(
        self, audio: AudioFrame, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """On the worker thread: the transcript in ``language``, else the default one, else
        the language the model detects, decoded after ``prompt``; the conversion to 16 kHz
        mono as well (a resample of a long utterance takes milliseconds the event loop
        should not spend)."""
        self._load()
        mono = self.as_input(audio)
        samples = mono.to_float32()[:, 0]
        (heard,) = self._transcribe_all([samples], [self._language(language)], [prompt])
        return self._transcript(mono, samples, heard, prompt)

    def recognise_batch(
        self, utterances: Sequence[Utterance], *, leave_slow: bool = False
    ) -> list[Transcript | None]:
        """On the worker thread: :meth:`recognise` of each utterance, with shared model
        calls (see the module docstring); with ``leave_slow``, None for each whose short
        decode failed (the 30 s one is slow)."""
        self._load()
        monos = [self.as_input(utterance.audio) for utterance in utterances]
        samples = [mono.to_float32()[:, 0] for mono in monos]
        languages = [self._language(utterance.language) for utterance in utterances]
        prompts = [utterance.prompt for utterance in utterances]
        transcripts: list[Transcript | None] = []
        heard_all = self._transcribe_all(samples, languages, prompts)
        for mono, audio, heard, prompt in zip(monos, samples, heard_all, prompts, strict=True):
            left = leave_slow and heard[1] is None
            transcripts.append(None if left else self._transcript(mono, audio, heard, prompt))
        return transcripts

    def _transcript(
        self,
        mono: AudioFrame,
        samples: npt.NDArray[np.float32],
        heard: Heard,
        prompt: str | None,
    ) -> Transcript:
        """The transcript of what was heard; the 30 s decode (after ``prompt``) first where
        the short one failed."""
        language, segments = heard
        if segments is None:
            language, segments = self._transcribe_full(samples, language, prompt)
        spoken = [segment for segment in segments if words(segment.text)]  # not "..." alone
        return Transcript(
            text=" ".join(segment.text for segment in spoken if segment.text),
            language=language,
            audio_duration=mono.duration,
            processing_time=0.0,
            segments=tuple(spoken),
        )

    async def warm_up(self) -> None:
        """Load the model and decode a second of silence (past the noise gate) on its thread,
        in its turn among the finals."""
        await self._lanes.run(self._warm_up)

    def _warm_up(self) -> None:
        self._load()
        silence = np.zeros(self.sample_rate, dtype=np.float32)
        self._decode_all([silence], [self._language(None)], [None])

    def _unsupported(self, language: str) -> str:
        kind = "multilingual" if self.multilingual else "English-only"
        return f"language {language!r} is not one that {self.model_name} ({kind}) knows"

    def _load(self) -> float:
        """Load the model once; only ever called on the worker's single thread."""
        if self._model is not None:
            return 0.0
        started = time.perf_counter()
        from faster_whisper import WhisperModel

        self._model = WhisperModel(
            str(self.model_path),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
        )
        self._log_mel = LogMel(self._model.feature_extractor)
        return time.perf_counter() - started

    def _tokenizer(self, language: str) -> Any:
        """The tokenizer whose prompt asks for a transcript in ``language``."""
        if (tokenizer := self._tokenizers.get(language)) is None:
            from faster_whisper.tokenizer import Tokenizer

            model = self._model
            tokenizer = Tokenizer(
                model.hf_tokenizer, self.multilingual, task="transcribe", language=language
            )
            self._tokenizers[language] = tokenizer
        return tokenizer

    def _language(self, language: str | None) -> str | None:
        """The language to decode in: ``language``, else the default; None: detect it."""
        return language or self.language if self.multilingual else ENGLISH

    def _transcribe_all(
        self,
        samples: list[npt.NDArray[np.float32]],
        languages: list[str | None],
        prompts: list[str | None],
    ) -> list[Heard]:
        """What each utterance said; silence and steady noise reach no model (Whisper would
        make words up)."""
        heard: list[Heard | None] = [None] * len(samples)
        spoken = []
        for index, (audio, language) in enumerate(zip(samples, languages, strict=True)):
            if is_steady_noise(audio, self.sample_rate):
                heard[index] = (language or ENGLISH, [])
            else:
                spoken.append(index)
        decoded = self._decode_all(
            [samples[i] for i in spoken],
            [languages[i] for i in spoken],
            [prompts[i] for i in spoken],
        )
        for index, result in zip(spoken, decoded, strict=True):
            heard[index] = result
        return [result for result in heard if result is not None]

    def _decode_all(
        self,
        samples: list[npt.NDArray[np.float32]],
        languages: list[str | None],
        prompts: list[str | None],
    ) -> list[Heard]:
        """The short-window decode, in batches of equal windows and prompts; the 30 s decode
        for an utterance too long for a short window."""
        heard: dict[int, Heard] = {}
        by_window: dict[tuple[int, str | None], list[int]] = {}  # (window frames, prompt)
        for index, (audio, prompt) in enumerate(zip(samples, prompts, strict=True)):
            duration = len(audio) / self.sample_rate
            if self.window_margin is None or duration + self.window_margin > FULL_WINDOW_SECONDS:
                heard[index] = self._transcribe_full(audio, languages[index], prompt)
            else:
                window = max(duration + self.window_margin, MIN_WINDOW_SECONDS)
                frames = math.ceil(window * FRAMES_PER_SECOND)
                by_window.setdefault((frames, prompt), []).append(index)
        for (frames, prompt), group in by_window.items():
            batch = self._transcribe_windows(
                [samples[i] for i in group], [languages[i] for i in group], prompt, frames
            )
            heard.update(zip(group, batch, strict=True))
        return [heard[index] for index in range(len(samples))]

    def _transcribe_full(
        self, samples: npt.NDArray[np.float32], language: str | None, prompt: str | None
    ) -> tuple[str, list[TranscriptSegment]]:
        segments, info = self._model.transcribe(
            samples,
            beam_size=self.beam_size,
            language=language,
            vad_filter=False,
            initial_prompt=prompt,
        )
        found = [TranscriptSegment(s.start, s.end, s.text.strip()) for s in segments]
        return info.language, found

    def _transcribe_windows(
        self,
        samples: list[npt.NDArray[np.float32]],
        languages: list[str | None],
        prompt: str | None,
        frames: int,
    ) -> list[Heard]:
        """The short-window decode of utterances with a window of ``frames``, each after
        ``prompt``, in shared decoder calls; segments None for each whose result looks
        failed."""
        import ctranslate2
        from faster_whisper.transcribe import get_ctranslate2_storage

        model, log_mel = self._model.model, self._log_mel
        assert log_mel is not None  # set with the model
        durations = [len(audio) / self.sample_rate for audio in samples]
        encodings = [
            model.encode(get_ctranslate2_storage(log_mel.window(audio, frames)), to_cpu=True)
            for audio in samples  # one by one: see the module docstring
        ]
        stacked = np.concatenate([np.asarray(encoding) for encoding in encodings])
        encoded = ctranslate2.StorageView.from_array(stacked)
        if None in languages:  # the most likely language token, read from the same encoding
            detected = [found[0][0][2:-2] for found in model.detect_language(encoded)]
            languages = [given or detected[i] for i, given in enumerate(languages)]
        heard_in = [str(language) for language in languages]
        tokenizers = [self._tokenizer(language) for language in heard_in]
        starts = [decoder_start(tokenizer, prompt) for tokenizer in tokenizers]
        prompt_length = len(starts[0]) - len(tokenizers[0].sot_sequence)
        decodes: dict[int, tuple[list[int], Any, bool]] = {}
        pending = list(range(len(samples)))
        for allowance, rate in FIRST_BUDGET, FULL_BUDGET:
            budgets = [min(MAX_TOKENS, allowance + math.ceil(durations[i] * rate)) for i in pending]
            source = encoded
            if len(pending) < len(samples):  # the utterances whose text ran past the budget
                source = ctranslate2.StorageView.from_array(np.ascontiguousarray(stacked[pending]))
            results = model.generate(
                source,
                [starts[i] for i in pending],
                beam_size=self.beam_size,
                # CTranslate2's Whisper yields at most half of it, and at most what a prompt
                # leaves: exactly the budget (a longer decode is thrown away)
                max_length=max(2 * max(budgets), max(budgets) + prompt_length),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )
            for index, budget, result in zip(pending, budgets, results, strict=True):
                tokens: list[int] = result.sequences_ids[0][:budget]
                # Run out: the budget ended before the text reached the audio's end.
                cut = len(tokens) >= budget
                reached = reaches_end(tokenizers[index], tokens, durations[index])
                decodes[index] = (tokens, result, cut and not reached)
            pending = [  # the full budget for those run out, unless they only repeat a phrase
                index
                for index in pending
                if decodes[index][2]
                and opening_copy(tokenizers[index], decodes[index][0], durations[index]) is None
            ]
            if not pending:
                break
        heard: list[Heard] = []
        for index in range(len(samples)):
            tokens, result, ran_out = decodes[index]
            segments = checked_segments(
                tokenizers[index], tokens, result, durations[index], ran_out
            )
            heard.append((heard_in[index], segments))
        return heard


def resolve_device(device: str) -> str:
    """``cpu`` or ``cuda`` for ``device`` (``cpu``, ``cuda`` or ``auto``): ``auto`` is CUDA
    when CTranslate2 finds a CUDA device, else the CPU."""
    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device must be cpu, cuda or auto, not {device!r}")
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def _vocabulary_size(folder: Path) -> int:
    """Tokens in a CTranslate2 Whisper folder's vocabulary (0 if it has none)."""
    text_file, json_file = folder / "vocabulary.txt", folder / "vocabulary.json"
    if text_file.is_file():
        with text_file.open(encoding="utf-8") as lines:
            return sum(1 for _ in lines)
    if json_file.is_file():
        return len(json.loads(json_file.read_text(encoding="utf-8")))
    return 0

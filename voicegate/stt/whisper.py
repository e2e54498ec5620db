"""``FasterWhisperSTT``: local Whisper (CTranslate2), decoding a window fitted to the utterance.

Each utterance is decoded in a short window of its own length plus ``window_margin`` (2 s)
(:mod:`voicegate.stt.whisper_window`, which says how that was chosen on real recordings); one
whose short decode looks failed is tried again (after a lead-in of silence, then with a wider
beam), and one that fails those too, or is too long for a short window, takes faster-whisper's
own 30 s path.
``window_margin=None`` selects the 30 s path for everything. Silence and steady noise never
reach the model (:mod:`voicegate.audio.noise`): Whisper makes words up in them.

**Half the cores.** ``cpu_threads`` defaults to half the CPU cores (at least one): at the end
of a turn the pass over the speech so far runs beside Smart Turn, and on 2 cores a 1.5-2 s
utterance took 160 ms on one thread against 189 ms on two (88 ms alone either way);
``voicegate bench``, one caller, three runs each alternating: first answer audio p50 251
against 300 ms. Two threads decode an 18 s utterance alone 10% faster.

**Languages.** A multilingual model (Whisper base) decodes in the language it is given, else
in the one it detects from the same short-window encoding (right for 6 of 8 espeak-ng
sentences in 4 languages; over the 30 s window, 5, at ten times the cost); an English-only
one (tiny.en) always in English.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from faster_whisper.tokenizer import _LANGUAGE_CODES

from voicegate.audio.frame import AudioFrame
from voicegate.audio.noise import is_steady_noise
from voicegate.catalog import DEFAULT_STT_MODEL, resolve_model
from voicegate.inference import RunAlone
from voicegate.stt.base import Transcript, TranscriptSegment, UnsupportedLanguageError
from voicegate.stt.log_mel import LogMel
from voicegate.stt.text import words
from voicegate.stt.whisper_window import (
    SECOND_TRIES,
    Heard,
    ShortWindowDecoder,
    window_frames,
)
from voicegate.stt.worker import GPU_MAX_BATCH, PARTIAL_BUSY_LIMIT, Utterance, WorkerSTT

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
        self._window: ShortWindowDecoder | None = None
        self._second_tries: list[tuple[ShortWindowDecoder, float]] = []
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
    ) -> list[Transcript | RunAlone[Transcript]]:
        """On the worker thread: :meth:`recognise` of each utterance, with shared model
        calls (see the module docstring); with ``leave_slow``, for each whose short decode
        and second tries failed, a :class:`~voicegate.inference.RunAlone` whose rest is the
        30 s decode (slow)."""
        self._load()
        monos = [self.as_input(utterance.audio) for utterance in utterances]
        samples = [mono.to_float32()[:, 0] for mono in monos]
        languages = [self._language(utterance.language) for utterance in utterances]
        prompts = [utterance.prompt for utterance in utterances]
        transcripts: list[Transcript | RunAlone[Transcript]] = []
        heard_all = self._transcribe_all(samples, languages, prompts)
        for mono, audio, heard, prompt in zip(monos, samples, heard_all, prompts, strict=True):
            finish = partial(self._transcript, mono, audio, heard, prompt)
            transcripts.append(RunAlone(finish) if leave_slow and heard[1] is None else finish())
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
        self._window = ShortWindowDecoder(
            self._model.model,
            LogMel(self._model.feature_extractor),
            self._tokenizer,
            self.sample_rate,
            self.beam_size,
        )
        tries = [(second.lead_in, second.beam_size or self.beam_size) for second in SECOND_TRIES]
        self._second_tries = [  # not a try that is the first decode again
            (replace(self._window, beam_size=beam), lead_in)
            for lead_in, beam in tries
            if (lead_in, beam) != (0.0, self.beam_size)
        ]
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
        """The short-window decode; each that looks failed tried again as
        :data:`~voicegate.stt.whisper_window.SECOND_TRIES` say (its segments timed in the
        audio as given), and left to the 30 s decode if every try fails or hears silence."""
        window = self._window
        assert window is not None  # made with the model
        heard = self._decode_short(window, samples, languages, prompts)
        for decoder, lead_in in self._second_tries:
            failed = [index for index, (_, segments) in enumerate(heard) if segments is None]
            if not failed:
                break
            silence = np.zeros(round(lead_in * self.sample_rate), np.float32)
            retried = self._decode_short(
                decoder,
                [np.concatenate([silence, samples[i]]) for i in failed],
                [languages[i] for i in failed],
                [prompts[i] for i in failed],
            )
            for index, (language, segments) in zip(failed, retried, strict=True):
                if segments:  # not silence either: the first decode heard speech
                    heard[index] = (language, [_earlier(s, lead_in) for s in segments])
        return heard

    def _decode_short(
        self,
        window: ShortWindowDecoder,
        samples: list[npt.NDArray[np.float32]],
        languages: list[str | None],
        prompts: list[str | None],
    ) -> list[Heard]:
        """The short-window decode by ``window``, in batches of equal windows and prompts;
        the 30 s decode for an utterance too long for a short window."""
        heard: dict[int, Heard] = {}
        by_window: dict[tuple[int, str | None], list[int]] = {}  # (window frames, prompt)
        for index, (audio, prompt) in enumerate(zip(samples, prompts, strict=True)):
            frames = window_frames(len(audio) / self.sample_rate, self.window_margin)
            if frames is None:
                heard[index] = self._transcribe_full(audio, languages[index], prompt)
            else:
                by_window.setdefault((frames, prompt), []).append(index)
        for (frames, prompt), group in by_window.items():
            batch = window.decode(
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


def _earlier(segment: TranscriptSegment, seconds: float) -> TranscriptSegment:
    """``segment`` timed ``seconds`` earlier (not before the audio's start)."""
    return TranscriptSegment(
        max(0.0, segment.start - seconds), max(0.0, segment.end - seconds), segment.text
    )


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

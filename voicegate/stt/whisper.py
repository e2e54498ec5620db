"""``FasterWhisperSTT``: local Whisper (CTranslate2), decoding a window fitted to the utterance.

Whisper encodes 30 s windows: a 1 s answer padded to 30 s pays about 300 ms of encoder time
for silence. Here an utterance is decoded in a window of its own length plus
``window_margin`` (2 s), at least ``MIN_WINDOW_SECONDS`` (5 s); its encoder pass costs about
a tenth of the 30 s one (28 ms against 298 ms for a 6 s window, on 2 cores). How, chosen on
the 551 real recordings of ``benchmarks/wer.py``:

- **Pad the audio, not the features.** Whisper was trained on audio padded with zeros, whose
  log-Mel frames sit at the utterance's floor (its loudest level minus 80 dB). faster-whisper
  pads the *features* with 0 instead, a mid-level constant: harmless in a 30 s window, but in
  a short one Whisper reads it as speech still going on and says the word again and again
  ("fifty" came back as "50" thirteen times; 40% WER, 1,149 of 1,330 errors insertions).
  Padding the audio alone cut the loops by half; a longer margin alone (10 s) did not stop
  them either.
- **A token budget bounded by the audio**, in two steps: ``FIRST_BUDGET`` (4 tokens plus 4.5
  a second: the prompts over 2 s needed a median of 3.6 and a p95 of 4.6 a second, timestamps
  included), then, only if that ran out before the text reached the audio's end, the same
  encoding decoded again with ``FULL_BUDGET`` (6 plus 7 a second; the most any prompt needed
  was 5.8). A tight first budget matters: once Whisper has said the utterance it often starts
  it over after the audio's end, and every token of that is thrown away.
- **Check, then fall back.** A result is kept unless it looks like a failed decode: a word
  or phrase twice in a row, an ending that starts the text over, a text the full budget left
  short of the audio's end, an average log-probability under -1.2, or a confident text where
  the model also thinks nobody spoke (its "you" on silence). Such an utterance, about one in
  twelve of the prompts and mostly single words, is decoded again by faster-whisper's own
  30 s path, whose result it then is exactly. (faster-whisper's own threshold for a failed
  decode, -1, sent one in six back, for one word fewer in 3,300 and a slower median.)
  ``repetition_penalty`` and ``no_repeat_ngram_size`` were tried instead:
  both left loops and cost words elsewhere.
- **One window, not a cascade.** Trying the utterance's own window first (its length plus the
  margin, no 5 s floor), then the 5 s one, then the 30 s decode, was measured on 461 prompts
  (every one up to 3 s, a quarter of the longer; 16 kHz; load average 15, each utterance
  through every decode in turn): 87 failed the first window, mostly single words, the texts
  it kept cost words (WER 8.21% against 7.88% for this module's decode and 7.69% for the
  30 s decode) and the median rose from 214 to 242 ms (the looping decode before this one:
  175 ms), since a failed attempt is paid on top of the next. With a 1 s margin, 204 failed
  and the median was 321 ms. Where a short utterance's time goes (2 cores, load average 7):
  a 2.5 s window encodes in about 27 ms and a 5 s one in 40; each decoded token costs 5 to
  10 ms, and a single word takes about seven. Fewer tokens do not come cheap either: without
  timestamps (two tokens fewer a segment) 45 of 108 prompts up to 3 s fell back to the 30 s
  decode (against 11), for a median of 513 ms against 322 (load average 24). Carrying a
  run-out budget on by passing its tokens back as the prompt does not work: CTranslate2
  returns them again and restarts the timestamps.

Segments that start where the audio ends are dropped (the model restarting the utterance).
``window_margin=None`` selects faster-whisper's 30 s path for everything.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import AudioFrame
from voicegate.catalog import DEFAULT_STT_MODEL, resolve_model
from voicegate.stt.base import Transcript, TranscriptSegment
from voicegate.stt.text import repeated_run, restarted_tail, words
from voicegate.stt.worker import WorkerSTT

FRAMES_PER_SECOND = 100
"""Log-Mel frames per second of audio (a 10 ms hop)."""
HOP_LENGTH = 160
"""Samples per log-Mel frame at 16 kHz."""
SILENCE_TAIL_FRAMES = 4
"""Frames of silence after the audio that cover the last 25 ms STFT window reaching into it."""
FULL_WINDOW_SECONDS = 30.0
MIN_WINDOW_SECONDS = 5.0
SECONDS_PER_TIMESTAMP = 0.02
FIRST_BUDGET = (4, 4.5)
FULL_BUDGET = (6, 7.0)
MAX_TOKENS = 224
"""Whisper's own cap on decoded tokens (half its 448-token text context)."""
END_TOLERANCE = 0.05
"""A segment that starts this close to the end of the audio (or later) is a restart."""
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
"""With a high no-speech probability, a text this unsure is silence (faster-whisper's rule)."""
UNSURE_LOG_PROB = -1.2
"""A short-window text this unsure is decoded again over the full window."""


class FasterWhisperSTT(WorkerSTT):
    """Whisper through faster-whisper, loaded once and shared by every session.

    ``model`` is a manifest id or the path of a CTranslate2 Whisper folder. The model
    loads on the worker thread at the first call; call :meth:`warm_up` at start-up.
    Transcriptions take turns on that thread (:class:`WorkerSTT`): finals wait in order (at
    most ``max_queue`` of them), partials run only when no final waits.
    """

    def __init__(
        self,
        model: str = DEFAULT_STT_MODEL,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 1,
        language: str = "en",
        window_margin: float | None = 2.0,
        max_queue: int = 256,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        super().__init__(f"stt-{model}", max_queue)
        self.model_name = model
        self.model_path = resolve_model(model, "stt")
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads or (os.cpu_count() or 1)
        self.beam_size = beam_size
        self.language = language
        self.window_margin = window_margin
        self._model: Any = None
        self._tokenizer: Any = None

    def recognise(self, audio: AudioFrame) -> Transcript:
        """On the worker thread: the conversion to 16 kHz mono as well (a resample of a long
        utterance takes milliseconds the event loop should not spend)."""
        mono = self.as_input(audio)
        segments = self._transcribe_samples(mono.to_float32()[:, 0])
        return Transcript(
            text=" ".join(segment.text for segment in segments if segment.text),
            language=self.language,
            audio_duration=mono.duration,
            processing_time=0.0,
            segments=tuple(segments),
        )

    def _load(self) -> float:
        """Load the model once; only ever called on the worker's single thread."""
        if self._model is not None:
            return 0.0
        started = time.perf_counter()
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        model = WhisperModel(
            str(self.model_path),
            device="cpu",
            compute_type=self.compute_type,
            cpu_threads=self.cpu_threads,
        )
        self._tokenizer = Tokenizer(
            model.hf_tokenizer,
            model.model.is_multilingual,
            task="transcribe",
            language=self.language,
        )
        self._model = model
        return time.perf_counter() - started

    def _transcribe_samples(self, samples: npt.NDArray[np.float32]) -> list[TranscriptSegment]:
        self._load()
        duration = len(samples) / self.sample_rate
        if self.window_margin is None or duration + self.window_margin > FULL_WINDOW_SECONDS:
            return self._transcribe_full(samples)
        return self._transcribe_window(samples, duration, self.window_margin)

    def _transcribe_full(self, samples: npt.NDArray[np.float32]) -> list[TranscriptSegment]:
        segments, _ = self._model.transcribe(
            samples, beam_size=self.beam_size, language=self.language, vad_filter=False
        )
        return [TranscriptSegment(s.start, s.end, s.text.strip()) for s in segments]

    def _transcribe_window(
        self, samples: npt.NDArray[np.float32], duration: float, margin: float
    ) -> list[TranscriptSegment]:
        """The short-window decode, or the full one when its result looks failed."""
        from faster_whisper.transcribe import get_ctranslate2_storage

        window = max(duration + margin, MIN_WINDOW_SECONDS)
        features = self._padded_features(samples, math.ceil(window * FRAMES_PER_SECOND))
        encoded = self._model.model.encode(get_ctranslate2_storage(features), to_cpu=False)
        prompt = list(self._tokenizer.sot_sequence)
        for allowance, rate in FIRST_BUDGET, FULL_BUDGET:
            budget = min(MAX_TOKENS, allowance + math.ceil(duration * rate))
            result = self._model.model.generate(
                encoded,
                [prompt],
                beam_size=self.beam_size,
                max_length=2 * budget,  # CTranslate2's Whisper yields at most max_length // 2
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=[-1],
            )[0]
            tokens: list[int] = result.sequences_ids[0]
            # Cut short: the budget ran out before the text reached the audio's end.
            exhausted = len(tokens) >= budget and not self._segments(tokens, duration)[2]
            if not exhausted:
                break
        average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        silent = result.no_speech_prob > NO_SPEECH_THRESHOLD
        if silent and average_log_prob < LOG_PROB_THRESHOLD:
            return []
        segments, _, _ = self._segments(tokens, duration)
        if (
            silent  # yet confident: Whisper's "you" or "thank you" on silence, or real speech
            or average_log_prob < UNSURE_LOG_PROB
            or exhausted
            or _looped(segments)
        ):
            return self._transcribe_full(samples)
        return segments

    def _padded_features(
        self, samples: npt.NDArray[np.float32], frames: int
    ) -> npt.NDArray[np.float32]:
        """The log-Mel features of ``samples`` padded with silence to ``frames`` frames.

        Equal to the features of the zero-padded audio, at the cost of the audio alone: past
        the last window that reaches into the speech, every frame of silence is the same
        column (the spectrum's floor), so it is computed once and repeated.
        """
        tail = np.zeros(SILENCE_TAIL_FRAMES * HOP_LENGTH, dtype=np.float32)
        features = self._model.feature_extractor(np.concatenate([samples, tail]))[:, :frames]
        padded = np.pad(features, ((0, 0), (0, frames - features.shape[1])), mode="edge")
        return np.ascontiguousarray(padded[None], dtype=np.float32)

    def _segments(
        self, tokens: list[int], duration: float
    ) -> tuple[list[TranscriptSegment], bool, bool]:
        """Timestamped tokens as segments, up to the first that starts where the audio ends;
        whether the last segment was still open (no closing timestamp); whether the tokens
        went on past the audio's end."""
        timestamp_begin: int = self._tokenizer.timestamp_begin
        segments: list[TranscriptSegment] = []
        start = 0.0
        text_tokens: list[int] = []
        for token in tokens:
            if token < timestamp_begin:
                text_tokens.append(token)
                continue
            stamp = (token - timestamp_begin) * SECONDS_PER_TIMESTAMP
            if text_tokens:
                if text := self._tokenizer.decode(text_tokens).strip():
                    segments.append(TranscriptSegment(start, min(stamp, duration), text))
                text_tokens = []
            if stamp >= duration - END_TOLERANCE:
                return segments, False, True
            start = stamp
        if text_tokens and (text := self._tokenizer.decode(text_tokens).strip()):
            segments.append(TranscriptSegment(start, duration, text))
        return segments, bool(text_tokens), False


def _looped(segments: list[TranscriptSegment]) -> bool:
    """Whether a word or phrase comes twice in a row, or the text ends by starting over:
    how Whisper fills a window that has more room than the speech."""
    said = words(" ".join(segment.text for segment in segments))
    return repeated_run(said, 2) is not None or restarted_tail(said)

"""``FasterWhisperSTT``: local Whisper (CTranslate2) with an encoder window fitted to the audio.

Whisper pads every input to 30 s, so a 1 s utterance pays for a 30 s encoder pass. Here the
log-Mel features are cut to the audio's length plus ``window_margin`` seconds and handed to
CTranslate2 directly, which makes the encoder cost proportional to the utterance. A short
window tempts the decoder to start the utterance over once it has said it, so decoding keeps
timestamps, stops at a segment that restates an earlier one or starts after the audio ends,
and caps tokens by duration. Measured
on Piper speech (``benchmarks/speech_latency.py``), a 2 s margin keeps the word error rate of
the 30 s default. ``window_margin=None`` selects faster-whisper's own 30 s path.
"""

from __future__ import annotations

import math
import os
import re
import time
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import AudioFrame
from voicegate.catalog import resolve_model
from voicegate.inference import InferenceWorker
from voicegate.stt.base import STTProvider, Transcript, TranscriptSegment
from voicegate.stt.wer import normalize_words

FRAMES_PER_SECOND = 100
FULL_WINDOW_SECONDS = 30.0
SECONDS_PER_TIMESTAMP = 0.02
TOKENS_PER_SECOND = 10
"""Upper bound on decoded tokens per second of audio (speech is about 4-5)."""
END_TOLERANCE = 0.05
"""A segment that starts this close to the end of the audio (or later) is a repeat."""
NO_SPEECH_THRESHOLD = 0.6
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
LOG_PROB_THRESHOLD = -1.0


class FasterWhisperSTT(STTProvider):
    """Whisper through faster-whisper, loaded once and shared by every session.

    ``model`` is a manifest id or the path of a CTranslate2 Whisper folder. The model
    loads on the worker thread at the first call; call :meth:`warm_up` at start-up.
    """

    def __init__(
        self,
        model: str = "whisper-tiny.en",
        *,
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 1,
        language: str = "en",
        window_margin: float | None = 2.0,
        max_queue: int = 8,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model_name = model
        self.model_path = resolve_model(model, "stt")
        self.compute_type = compute_type
        self.cpu_threads = cpu_threads or (os.cpu_count() or 1)
        self.beam_size = beam_size
        self.language = language
        self.window_margin = window_margin
        self._worker = InferenceWorker(f"stt-{model}", max_queue)
        self._model: Any = None
        self._tokenizer: Any = None

    @property
    def worker(self) -> InferenceWorker:
        """The worker thread this model runs on."""
        return self._worker

    async def load(self) -> float:
        """Load the model (on the worker thread) if not loaded yet; returns seconds spent."""
        return await self._worker.run(self._load)

    async def transcribe(self, audio: AudioFrame) -> Transcript:
        """Transcribe one finished utterance (any rate or channel count)."""
        started = time.perf_counter()
        duration, segments = await self._worker.run(self._transcribe_audio, audio)
        return Transcript(
            text=" ".join(segment.text for segment in segments if segment.text),
            language=self.language,
            audio_duration=duration,
            processing_time=time.perf_counter() - started,
            segments=tuple(segments),
        )

    def close(self) -> None:
        """Stop the worker; the model is freed with this object."""
        self._worker.close()

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

    def _transcribe_audio(self, audio: AudioFrame) -> tuple[float, list[TranscriptSegment]]:
        """On the worker thread: the conversion to 16 kHz mono as well (a resample of a long
        utterance takes milliseconds the event loop should not spend)."""
        mono = self.as_input(audio)
        return mono.duration, self._transcribe_samples(mono.to_float32()[:, 0])

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
        from faster_whisper.transcribe import get_ctranslate2_storage

        frames = math.ceil((duration + margin) * FRAMES_PER_SECOND)
        features = self._model.feature_extractor(samples)[:, :-1]
        features = np.pad(features, ((0, 0), (0, max(0, frames - features.shape[1]))))
        window = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        prompt = list(self._tokenizer.sot_sequence)
        max_length = min(
            self._model.max_length, len(prompt) + int(duration * TOKENS_PER_SECOND) + 16
        )
        result = self._model.model.generate(
            get_ctranslate2_storage(window),
            [prompt],
            beam_size=self.beam_size,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        tokens: list[int] = result.sequences_ids[0]
        average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and average_log_prob < LOG_PROB_THRESHOLD:
            return []
        return self._segments(tokens, duration)

    def _segments(self, tokens: list[int], duration: float) -> list[TranscriptSegment]:
        """Split timestamped tokens into segments, stopping at the first hallucinated one."""
        timestamp_begin: int = self._tokenizer.timestamp_begin
        segments: list[TranscriptSegment] = []
        spoken: list[list[str]] = []
        start = 0.0
        text_tokens: list[int] = []
        for token in [*tokens, timestamp_begin + round(duration / SECONDS_PER_TIMESTAMP)]:
            if token < timestamp_begin:
                text_tokens.append(token)
                continue
            stamp = (token - timestamp_begin) * SECONDS_PER_TIMESTAMP
            if text_tokens:
                text, repeated = _drop_restatement(
                    self._tokenizer.decode(text_tokens).strip(), spoken
                )
                if text:
                    segments.append(TranscriptSegment(start, min(stamp, duration), text))
                if repeated:
                    break
                text_tokens = []
            if stamp >= duration - END_TOLERANCE:
                break
            start = stamp
        return segments


def _drop_restatement(text: str, spoken: list[list[str]]) -> tuple[str, bool]:
    """Cut ``text`` at the first sentence that restates an earlier one (whole, or its
    opening words when cut short, possibly after one extra word); say whether it was cut.

    This is how Whisper fills a window longer than the speech: it starts over. Sentences
    kept are appended to ``spoken``.
    """
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        words = normalize_words(sentence)
        for previous in spoken:
            for candidate in (words, words[1:]):
                if len(candidate) >= 2 and previous[: len(candidate)] == candidate:
                    return " ".join(kept), True
        if words:
            spoken.append(words)
        kept.append(sentence)
    return " ".join(kept), False

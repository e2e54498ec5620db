"""The short-window decode voicegate had before issue 18, as a row of ``benchmarks/wer.py``.

Features of the audio padded with 0 (not the audio with silence) to its length plus 2 s,
one greedy decode with a budget of 10 tokens a second plus 16, no checks; a segment that
restates an earlier sentence, or starts where the audio ends, ends the text. It loops on
short utterances ("50" thirteen times) and is kept only as the speed to match.
"""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt

from voicegate.stt.base import TranscriptSegment
from voicegate.stt.text import words
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.stt.whisper_tokens import END_TOLERANCE, NO_SPEECH_THRESHOLD, SECONDS_PER_TIMESTAMP
from voicegate.stt.whisper_window import FRAMES_PER_SECOND, Heard

MARGIN_SECONDS = 2.0
TOKENS_PER_SECOND = 10
EXTRA_TOKENS = 16
NO_SPEECH_LOG_PROB = -1.0
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class BeforeWhisperSTT(FasterWhisperSTT):
    """:class:`FasterWhisperSTT` with the decode it had before issue 18 (English only, no
    prompt)."""

    def _decode_all(
        self,
        samples: list[npt.NDArray[np.float32]],
        languages: list[str | None],
        prompts: list[str | None],
    ) -> list[Heard]:
        return [("en", self._decode_before(audio)) for audio in samples]

    def _decode_before(self, samples: npt.NDArray[np.float32]) -> list[TranscriptSegment]:
        from faster_whisper.transcribe import get_ctranslate2_storage

        duration = len(samples) / self.sample_rate
        if duration + MARGIN_SECONDS > 30.0:
            return self._transcribe_full(samples, "en", None)[1]
        frames = math.ceil((duration + MARGIN_SECONDS) * FRAMES_PER_SECOND)
        features = self._model.feature_extractor(samples)[:, :-1]
        features = np.pad(features, ((0, 0), (0, max(0, frames - features.shape[1]))))
        window = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        tokenizer = self._tokenizer("en")
        prompt = list(tokenizer.sot_sequence)
        budget = len(prompt) + int(duration * TOKENS_PER_SECOND) + EXTRA_TOKENS
        result = self._model.model.generate(
            get_ctranslate2_storage(window),
            [prompt],
            beam_size=self.beam_size,
            max_length=min(self._model.max_length, budget),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=[-1],
        )[0]
        tokens: list[int] = result.sequences_ids[0]
        average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and average_log_prob < NO_SPEECH_LOG_PROB:
            return []
        return _segments(tokenizer, tokens, duration)


def _segments(tokenizer: object, tokens: list[int], duration: float) -> list[TranscriptSegment]:
    """Timestamped tokens as segments, up to the first that restates an earlier sentence or
    starts where the audio ends."""
    timestamp_begin: int = tokenizer.timestamp_begin  # type: ignore[attr-defined]
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
            decoded = tokenizer.decode(text_tokens).strip()  # type: ignore[attr-defined]
            text, repeated = _drop_restatement(decoded, spoken)
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
    """``text`` cut at its first sentence that restates an earlier one (whole, or its opening
    words, maybe after one extra word); whether it was cut. Kept sentences join ``spoken``."""
    kept: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        said = words(sentence)
        for previous in spoken:
            for candidate in (said, said[1:]):
                if len(candidate) >= 2 and previous[: len(candidate)] == candidate:
                    return " ".join(kept), True
        if said:
            spoken.append(said)
        kept.append(sentence)
    return " ".join(kept), False

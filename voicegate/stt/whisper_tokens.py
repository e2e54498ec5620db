"""Reading a short-window Whisper decode's tokens: its segments, and whether it looks
failed (see :mod:`voicegate.stt.whisper` for how these checks were chosen)."""

from __future__ import annotations

from typing import Any

from voicegate.stt.base import TranscriptSegment
from voicegate.stt.text import repeated_run, restarted_tail, words

SECONDS_PER_TIMESTAMP = 0.02
END_TOLERANCE = 0.05
"""A segment that starts this close to the end of the audio (or later) is a restart."""
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
"""With a high no-speech probability, a text this unsure is silence (faster-whisper's rule)."""
UNSURE_LOG_PROB = -1.2
"""A short-window text this unsure is decoded again over the full window."""


def reaches_end(tokenizer: Any, tokens: list[int], duration: float) -> bool:
    """Whether the timestamped ``tokens`` went on to the end of ``duration`` s of audio."""
    return _segments(tokenizer, tokens, duration)[2]


def checked_segments(
    tokenizer: Any, tokens: list[int], result: Any, duration: float, exhausted: bool
) -> list[TranscriptSegment] | None:
    """The segments of a short-window decode: none for silence; None if it looks failed
    (``exhausted``: its text did not reach the audio's end within the full budget)."""
    average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    silent = result.no_speech_prob > NO_SPEECH_THRESHOLD
    if silent and average_log_prob < LOG_PROB_THRESHOLD:
        return []
    segments, _, _ = _segments(tokenizer, tokens, duration)
    if (
        silent  # yet confident: Whisper's "you" or "thank you" on silence, or real speech
        or average_log_prob < UNSURE_LOG_PROB
        or exhausted
        or _looped(segments)
    ):
        return None
    return segments


def _looped(segments: list[TranscriptSegment]) -> bool:
    """Whether a word or phrase comes twice in a row, or the text ends by starting over:
    how Whisper fills a window that has more room than the speech."""
    said = words(" ".join(segment.text for segment in segments))
    return repeated_run(said, 2) is not None or restarted_tail(said)


def _segments(
    tokenizer: Any, tokens: list[int], duration: float
) -> tuple[list[TranscriptSegment], bool, bool]:
    """Timestamped tokens as segments, up to the first that starts where the audio ends;
    whether the last segment was still open (no closing timestamp); whether the tokens
    went on past the audio's end."""
    timestamp_begin: int = tokenizer.timestamp_begin
    segments: list[TranscriptSegment] = []
    start = 0.0
    text_tokens: list[int] = []
    for token in tokens:
        if token < timestamp_begin:
            text_tokens.append(token)
            continue
        stamp = (token - timestamp_begin) * SECONDS_PER_TIMESTAMP
        if text_tokens:
            if text := tokenizer.decode(text_tokens).strip():
                segments.append(TranscriptSegment(start, min(stamp, duration), text))
            text_tokens = []
        if stamp >= duration - END_TOLERANCE:
            return segments, False, True
        start = stamp
    if text_tokens and (text := tokenizer.decode(text_tokens).strip()):
        segments.append(TranscriptSegment(start, duration, text))
    return segments, bool(text_tokens), False

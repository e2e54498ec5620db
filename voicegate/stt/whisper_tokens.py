"""A short-window Whisper decode's tokens: how it starts (a prompt), its segments, and
whether it looks failed (see :mod:`voicegate.stt.whisper_window` for how these checks were
chosen)."""

from __future__ import annotations

import logging
from typing import Any

from voicegate.stt.base import TranscriptSegment
from voicegate.stt.text import repeated_opening, repeated_run, restarted_tail, words

logger = logging.getLogger(__name__)

SECONDS_PER_TIMESTAMP = 0.02
END_TOLERANCE = 0.05
"""A segment that starts this close to the end of the audio (or later) is a restart."""
NO_SPEECH_THRESHOLD = 0.6
LOG_PROB_THRESHOLD = -1.0
"""With a high no-speech probability, a text this unsure is silence (faster-whisper's rule)."""
UNSURE_LOG_PROB = -1.2
"""A short-window text this unsure is decoded again over the full window."""


def decoder_start(tokenizer: Any, prompt: str | None) -> list[int]:
    """The decoder's first tokens: ``prompt`` as the text before the audio (as faster-whisper
    writes an initial prompt), then the task's."""
    start = list(tokenizer.sot_sequence)
    if not prompt:
        return start
    return [tokenizer.sot_prev, *tokenizer.encode(" " + prompt.strip()), *start]


def reaches_end(tokenizer: Any, tokens: list[int], duration: float) -> bool:
    """Whether the timestamped ``tokens`` went on to the end of ``duration`` s of audio."""
    return _segments(tokenizer, tokens, duration)[2]


def checked_segments(
    tokenizer: Any, tokens: list[int], result: Any, duration: float, ran_out: bool
) -> list[TranscriptSegment] | None:
    """The segments of a short-window decode: none for silence; None if it looks failed.

    ``ran_out``: its text did not reach the audio's end within its budget; such a decode is
    kept only as its :func:`opening_copy`."""
    average_log_prob = result.scores[0] * len(tokens) / (len(tokens) + 1)
    silent = result.no_speech_prob > NO_SPEECH_THRESHOLD
    if silent and average_log_prob < LOG_PROB_THRESHOLD:
        return []
    if silent or average_log_prob < UNSURE_LOG_PROB:  # silent yet confident: Whisper's "you"
        if logger.isEnabledFor(logging.DEBUG):  # its text is decoded for the log only
            logger.debug(
                "short decode looks failed: unsure (log-probability %.2f, no speech %.2f) of %r",
                average_log_prob,
                result.no_speech_prob,
                tokenizer.decode([token for token in tokens if token < tokenizer.timestamp_begin]),
            )
        return None
    if ran_out:
        copy = opening_copy(tokenizer, tokens, duration)
        if copy is None:
            logger.debug("short decode looks failed: out of its budget")
        return copy
    segments, _, _ = _segments(tokenizer, tokens, duration)
    if _looped(segments):
        logger.debug("short decode looks failed: it repeats itself")
        return None
    return segments


def opening_copy(
    tokenizer: Any, tokens: list[int], duration: float
) -> list[TranscriptSegment] | None:
    """A decode whose text says one phrase again and again, the last copy maybe cut short
    (``"11. 11. 11. 11"``: Whisper filling the window after the speech), as that phrase said
    once (``"11."``); None if the text says anything else."""
    timestamp_begin: int = tokenizer.timestamp_begin
    text_tokens = [token for token in tokens if token < timestamp_begin]
    said = words(tokenizer.decode(text_tokens))
    size = repeated_opening(said)
    if size is None:
        return None
    phrase = said[:size]
    end = next(
        n for n in range(1, len(text_tokens) + 1) if _says(tokenizer, text_tokens[:n], phrase)
    )
    while end < len(text_tokens) and _says(tokenizer, text_tokens[: end + 1], phrase):
        end += 1  # the punctuation after it
    start = (
        (tokens[0] - timestamp_begin) * SECONDS_PER_TIMESTAMP
        if tokens[0] >= timestamp_begin
        else 0.0
    )
    text = tokenizer.decode(text_tokens[:end]).strip().rstrip(",;:")
    return [TranscriptSegment(start, duration, text)]


def _says(tokenizer: Any, tokens: list[int], phrase: list[str]) -> bool:
    return words(tokenizer.decode(tokens)) == phrase


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

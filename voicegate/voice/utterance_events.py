"""What a :class:`~voicegate.voice.listener.Listener` tells of the caller's utterances, in
order (besides :class:`SpeechStarted` and :class:`SpeechEnded`, which go to the client as
they are)."""

from __future__ import annotations

from dataclasses import dataclass

from voicegate.stt.base import Transcript
from voicegate.voice.notices import SpeechEnded, SpeechStarted
from voicegate.voice.turns import TurnTimings


@dataclass(frozen=True, slots=True)
class PartialHeard:
    """A transcript of the utterance so far; it may still change."""

    transcript: Transcript


@dataclass(frozen=True, slots=True)
class UtteranceHeard:
    """An utterance ended and was transcribed (never empty): a turn; ``timings`` is
    marked up to ``transcribed``."""

    transcript: Transcript
    timings: TurnTimings


@dataclass(frozen=True, slots=True)
class UtteranceIgnored:
    """An utterance that is no turn: ``reason`` is ``acknowledgement`` or ``echo``."""

    transcript: Transcript
    reason: str


@dataclass(frozen=True, slots=True)
class UtteranceLost:
    """An utterance ended but the recogniser failed on it (the error is logged)."""


@dataclass(frozen=True, slots=True)
class SessionIdle:
    """Neither the caller nor an answer has made a sound for ``seconds``."""

    seconds: float


ListenerEvent = (
    SpeechStarted
    | PartialHeard
    | SpeechEnded
    | UtteranceHeard
    | UtteranceIgnored
    | UtteranceLost
    | SessionIdle
)

"""What a voice session tells its client, independent of the wire format.

The session logic emits these typed notices; each transport turns them into its own
messages (the JSON protocol of ``docs/protocol.md`` over a WebSocket or a WebRTC data
channel, lines on a terminal for the local backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from voicegate.core.models import RoomEvent
from voicegate.voice.heard import Heard
from voicegate.voice.live_settings import LiveSettings
from voicegate.voice.turns import TurnTimings


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    """The caller started speaking (stream time in seconds)."""

    at: float


@dataclass(frozen=True, slots=True)
class SpeechEnded:
    """The caller's utterance ended (stream time in seconds)."""

    at: float
    duration: float


@dataclass(frozen=True, slots=True)
class PartialTranscript:
    """A transcript of the speech so far; it may still change."""

    text: str


@dataclass(frozen=True, slots=True)
class FinalTranscript:
    """The transcript of a finished utterance, its language, and the room event it became
    (if any)."""

    text: str
    event_id: str | None
    language: str | None = None
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class RoomEventNotice:
    """An event of the session's room that the session may see, and the turn it belongs to
    (the caller's words that began it, or the answer to them), if any."""

    event: RoomEvent
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerStarted:
    """Speech synthesis of an answer started; audio follows. ``response_id`` is the answer
    the event is part of, ``turn_id`` the turn it answers (if known)."""

    text: str
    event_id: str
    response_id: str | None = None
    turn_id: str | None = None


@dataclass(frozen=True, slots=True)
class AnswerEnded:
    """The answer's audio is all sent, or was cut short; ``heard`` is what the caller heard
    of a cut answer, when the client reported what it played."""

    event_id: str
    interrupted: bool
    response_id: str | None = None
    turn_id: str | None = None
    heard: Heard | None = None


class Floor(StrEnum):
    """Whose turn it is, as the session sees it."""

    LISTENING = "listening"
    """The caller's: the session listens (the caller may or may not be speaking)."""
    THINKING = "thinking"
    """The caller's turn ended and its answer is being prepared."""
    SPEAKING = "speaking"
    """An answer is being spoken."""


@dataclass(frozen=True, slots=True)
class TurnState:
    """The floor changed hands."""

    floor: Floor


@dataclass(frozen=True, slots=True)
class BargeIn:
    """The caller interrupted an answer being prepared (``during="thinking"``) or played
    (``"speaking"``): it was cut, and its queued audio dropped.

    ``strategy`` is the interruption strategy that decided, ``speech_ms`` how long the
    caller had spoken by then and ``text`` the words heard by then (possibly none). (A
    client's own ``interrupt`` is no barge-in.)
    """

    during: str
    strategy: str
    speech_ms: float
    text: str


@dataclass(frozen=True, slots=True)
class SpeechIgnored:
    """The caller's speech during an answer was no turn: an ``acknowledgement`` or the
    answer's ``echo``."""

    reason: str
    text: str


@dataclass(frozen=True, slots=True)
class TurnMetrics:
    """Per-stage latency of the last turn."""

    timings: TurnTimings


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    """The settings the client may change, as they are in force now."""

    settings: LiveSettings


@dataclass(frozen=True, slots=True)
class SessionError:
    """Something went wrong that the client should know about; the session goes on."""

    code: str
    message: str


Notice = (
    SpeechStarted
    | SpeechEnded
    | PartialTranscript
    | FinalTranscript
    | RoomEventNotice
    | AnswerStarted
    | AnswerEnded
    | TurnState
    | BargeIn
    | SpeechIgnored
    | TurnMetrics
    | SessionUpdated
    | SessionError
)

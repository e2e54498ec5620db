"""A voice session, and the settings that shape how it listens and answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from voicegate.audio.endpoint import PREROLL_MS
from voicegate.core.models import ChannelType, new_id, utcnow
from voicegate.voice.hello import AUTO_LANGUAGE
from voicegate.voice.live_settings import BARGE_IN_MS_LIMITS
from voicegate.voice.transport import VoiceTransport


class VADKind(StrEnum):
    """Which voice activity detector hears a session."""

    WEBRTC = "webrtc"
    SILERO = "silero"


class EndOfTurn(StrEnum):
    """How a session decides that the caller has finished their turn."""

    FIXED = "fixed"
    """A fixed silence (``end_of_speech_ms``) ends the turn."""
    SEMANTIC = "semantic"
    """After a short pause the end-of-turn model and the words say whether the caller is
    done; ``max_silence_ms`` of silence always ends the turn."""


class InterruptionStrategy(StrEnum):
    """When the caller's speech interrupts an answer (RoomKit's names)."""

    IMMEDIATE = "immediate"
    """As soon as speech starts."""
    CONFIRMED = "confirmed"
    """Once the speech has lasted ``barge_in_ms``."""
    SEMANTIC = "semantic"
    """Once its words are more than acknowledgements ("uh-huh", "yeah", "okay"...); an
    acknowledgement neither interrupts nor is a turn."""
    DISABLED = "disabled"
    """Never: the speech is a turn answered after the answer in progress."""


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How sessions detect speech, end turns, take interruptions and what they speak.

    The recogniser hears each utterance from ``preroll_ms`` before the VAD found speech
    (:data:`~voicegate.audio.endpoint.PREROLL_MS`).

    ``end_of_speech_ms`` is the silence that ends a turn in the ``fixed`` mode. In the
    ``semantic`` mode the end-of-turn model is asked after ``turn_check_ms`` of silence,
    and again every ``turn_recheck_ms`` more; the turn ends when it puts completion at
    ``turn_sure_threshold`` or above and the words so far do not end mid-phrase ("for",
    "and", "the"...); at ``turn_threshold`` or above, once the silence has lasted
    ``end_of_speech_ms`` too (at once for speech begun over an answer); when the words
    end a sentence (".", "?", "!") whatever the model says, after ``words_end_ms`` of
    silence (0: never); and after ``max_silence_ms`` of silence in any case; never before
    ``min_silence_ms`` (a stop consonant's closure inside a sentence, "quick | brown").
    ``interruption_speaking`` applies while an answer plays, ``interruption_thinking``
    while it is prepared (from the end of the caller's turn to its first audio);
    ``barge_in_ms`` is the speech ``confirmed`` needs. ``echo_cancellation`` cancels the
    echo of the answers in the caller's audio (for clients without a canceller of their
    own) and ``noise_suppression`` suppresses steady noise; with either, WebRTC's audio
    processing module runs on the session's microphone. ``speak_channel_types`` lists the
    sources whose text messages a session speaks: by default the room's intelligence
    channels.
    ``language`` is what callers speak (a language code such as ``fr``), or ``auto``:
    the recogniser's own choice (a multilingual model detects it per utterance); a
    client may choose its own in ``hello``. A session in which neither the caller nor an
    answer makes a sound for ``idle_timeout_ms`` ends (close code 4410 ``idle_timeout``;
    0: never).
    """

    vad: VADKind = VADKind.WEBRTC
    vad_aggressiveness: int = 2
    speech_start_ms: int = 60
    end_of_turn: EndOfTurn = EndOfTurn.SEMANTIC
    end_of_speech_ms: int = 300
    turn_check_ms: int = 40
    turn_recheck_ms: int = 300
    turn_threshold: float = 0.5
    turn_sure_threshold: float = 0.9
    min_silence_ms: int = 160
    words_end_ms: int = 700
    max_silence_ms: int = 1500
    preroll_ms: int = PREROLL_MS
    max_utterance_ms: int = 20_000
    interruption_speaking: InterruptionStrategy = InterruptionStrategy.SEMANTIC
    interruption_thinking: InterruptionStrategy = InterruptionStrategy.SEMANTIC
    barge_in_ms: int = 120
    echo_cancellation: bool = True
    noise_suppression: bool = False
    partial_interval_ms: int = 700
    idle_timeout_ms: int = 120_000
    speak_channel_types: frozenset[ChannelType] = frozenset({ChannelType.AI})
    language: str = AUTO_LANGUAGE

    @property
    def stt_language(self) -> str | None:
        """The language to ask the recogniser for: None lets it choose."""
        return None if self.language == AUTO_LANGUAGE else self.language

    def session_choices(self) -> dict[str, object]:
        """The settings a client may choose per session (:data:`SESSION_SETTINGS`), as JSON."""
        return {name: _json(getattr(self, name)) for name in SESSION_SETTINGS}


CHOICES: dict[str, type[StrEnum]] = {
    "vad": VADKind,
    "end_of_turn": EndOfTurn,
    "interruption_speaking": InterruptionStrategy,
    "interruption_thinking": InterruptionStrategy,
}
"""The settings that name one of a few choices, and their choices."""
LIMITS: dict[str, tuple[float, float]] = {
    "turn_check_ms": (20, 2000),
    "turn_recheck_ms": (50, 5000),
    "turn_threshold": (0.0, 1.0),
    "turn_sure_threshold": (0.0, 1.0),
    "min_silence_ms": (0, 1000),
    "words_end_ms": (0, 10_000),
    "max_silence_ms": (200, 10_000),
    "barge_in_ms": BARGE_IN_MS_LIMITS,
}
"""The range of each numeric setting a session may choose."""
SESSION_SETTINGS: tuple[str, ...] = (
    *CHOICES,
    *LIMITS,
    "echo_cancellation",
    "noise_suppression",
)
"""The settings a client may choose for its own session (``hello`` fields; a WebRTC offer
takes none); the server's settings are their defaults."""


def session_setting(name: str, value: object) -> object:
    """``value`` (as JSON gives it) checked as the session setting ``name``; raises
    ``ValueError`` saying what is expected."""
    default = getattr(VoiceSettings(), name)
    if (enum := CHOICES.get(name)) is not None:
        if not isinstance(value, str) or value not in {member.value for member in enum}:
            raise ValueError(f"{name} must be one of {', '.join(m.value for m in enum)}")
        return enum(value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    low, high = LIMITS[name]
    kind = int if isinstance(default, int) else float
    allowed = int if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed) or not low <= value <= high:
        what = "an integer" if kind is int else "a number"
        raise ValueError(f"{name} must be {what} from {low:g} to {high:g}")
    return kind(value)


def with_session_choices(settings: VoiceSettings, choices: Mapping[str, object]) -> VoiceSettings:
    """``settings`` with a client's choices, each checked by :func:`session_setting`."""
    checked: dict[str, Any] = {
        name: session_setting(name, value) for name, value in choices.items()
    }
    return replace(settings, **checked)


def _json(value: object) -> object:
    return value.value if isinstance(value, StrEnum) else value


@dataclass(slots=True)
class VoiceSession:
    """One caller's connection, bound to a room through its own voice channel.

    ``metadata`` is what the transport's ``AuthCallback`` returned for the connection.
    """

    room_id: str
    participant_id: str
    transport: VoiceTransport
    metadata: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)

    @property
    def channel_id(self) -> str:
        """The id of the session's voice channel in its room."""
        return f"voice:{self.id}"

"""A voice session, and the settings that shape how it listens and answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from voicegate.core.models import ChannelType, new_id, utcnow
from voicegate.voice.hello import AUTO_LANGUAGE
from voicegate.voice.transport import VoiceTransport


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How sessions detect speech, when they interrupt and what they speak.

    ``end_of_speech_ms`` is the silence that ends an utterance; ``barge_in_ms`` the
    speech, counted from its detected start, that interrupts an answer playing (0
    interrupts at once). ``speak_channel_types`` lists the sources whose text
    messages a session speaks: by default the room's intelligence channels.
    ``language`` is what callers speak (a language code such as ``fr``), or ``auto``:
    the recogniser's own choice (a multilingual model detects it per utterance); a
    client may choose its own in ``hello``. A session in which neither the caller nor an
    answer makes a sound for ``idle_timeout_ms`` ends (close code 4410 ``idle_timeout``;
    0: never).
    """

    vad_aggressiveness: int = 2
    speech_start_ms: int = 60
    end_of_speech_ms: int = 300
    preroll_ms: int = 200
    max_utterance_ms: int = 20_000
    barge_in_ms: int = 120
    partial_interval_ms: int = 700
    idle_timeout_ms: int = 120_000
    speak_channel_types: frozenset[ChannelType] = frozenset({ChannelType.AI})
    language: str = AUTO_LANGUAGE

    @property
    def stt_language(self) -> str | None:
        """The language to ask the recogniser for: None lets it choose."""
        return None if self.language == AUTO_LANGUAGE else self.language


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

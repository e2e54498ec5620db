"""What a client sends, as typed events, and the checks of the version 2 messages.

Sans-I/O like :mod:`voicegate.voice.protocol`, which turns each message it receives into
these events (``docs/protocol.md`` describes every one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voicegate.voice.hello import Hello, is_int
from voicegate.voice.live_settings import read_changes

BAD_MESSAGE = "bad_message"
"""The error code of a known message whose fields are missing or wrong (recoverable)."""
MAX_TYPED_CHARS = 2000
"""The longest text a ``say`` or ``text`` message may carry."""
MAX_ID_CHARS = 64
"""The longest response id a ``played`` mark may name."""


@dataclass(frozen=True, slots=True)
class AudioIn:
    """One frame of the caller's PCM16 LE audio (whole samples)."""

    pcm: bytes


@dataclass(frozen=True, slots=True)
class Interrupt:
    """The client asks to stop the answer being spoken."""


@dataclass(frozen=True, slots=True)
class Bye:
    """The client ends the session."""


@dataclass(frozen=True, slots=True)
class Played:
    """Version 2: the client has played ``ms`` milliseconds of the answer ``response_id``."""

    response_id: str
    ms: int


@dataclass(frozen=True, slots=True)
class Say:
    """Version 2: the caller's turn, typed: ``text`` goes into the room as if spoken."""

    text: str


@dataclass(frozen=True, slots=True)
class PostText:
    """Version 2 ``text``: a message from the caller for the room's people, not a turn
    (no one answers it)."""

    text: str


@dataclass(frozen=True, slots=True)
class SessionUpdate:
    """Version 2 ``session.update``: the settings to change (checked), the others kept."""

    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Commit:
    """Version 2: end the caller's turn now (push-to-talk)."""


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """The client broke the protocol; ``fatal`` errors close the connection."""

    code: str
    message: str
    fatal: bool

    def __str__(self) -> str:
        """One log line: ``code (fatal): message``."""
        return f"{self.code}{' (fatal)' if self.fatal else ''}: {self.message}"


ClientMessage = Interrupt | Played | Say | PostText | SessionUpdate | Commit
"""A text message the session acts on (the transport itself ends the connection on ``bye``)."""
ProtocolEvent = Hello | AudioIn | Bye | ClientMessage | ProtocolError


def read_version_2(kind: str, message: dict[str, Any]) -> ClientMessage | str | None:
    """The version 2 message ``message`` of type ``kind``; a ``str`` says why its fields are
    wrong (a :data:`BAD_MESSAGE`); ``None`` when version 2 has no message ``kind``."""
    if kind == "played":
        response_id, ms = message.get("response_id"), message.get("ms")
        if not isinstance(response_id, str) or not 0 < len(response_id) <= MAX_ID_CHARS:
            return f"played needs a response_id: a string of 1 to {MAX_ID_CHARS} characters"
        if not is_int(ms) or ms < 0:
            return "played needs ms: a whole number of milliseconds, 0 or more"
        return Played(response_id, ms)
    if kind in ("say", "text"):
        text = message.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TYPED_CHARS:
            return f"{kind} needs text: a string of 1 to {MAX_TYPED_CHARS} characters, not blank"
        return Say(text.strip()) if kind == "say" else PostText(text.strip())
    if kind == "session.update":
        changes = read_changes(message.get("session"))
        return changes if isinstance(changes, str) else SessionUpdate(changes)
    if kind == "commit":
        return Commit()
    return None

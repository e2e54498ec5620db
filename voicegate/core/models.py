"""The room engine's data model: rooms, events, contents and the enums they use.

Plain slotted dataclasses: cheap to build on the hot path, keyword-constructible
exactly like RoomKit's models (``TextContent(body="hi")``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def new_id() -> str:
    """A fresh random identifier (32 hex digits)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class ChannelType(StrEnum):
    """What kind of channel an event came from or goes to."""

    SMS = "sms"
    EMAIL = "email"
    WEBSOCKET = "websocket"
    AI = "ai"
    VOICE = "voice"
    REALTIME_VOICE = "realtime_voice"
    WEBHOOK = "webhook"
    CLI = "cli"
    SYSTEM = "system"


class ChannelCategory(StrEnum):
    """Transports carry events to people; intelligence channels answer them."""

    TRANSPORT = "transport"
    INTELLIGENCE = "intelligence"


class ChannelDirection(StrEnum):
    """Which way events may flow through a channel."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"
    BIDIRECTIONAL = "bidirectional"


class EventType(StrEnum):
    """The kind of a room event."""

    MESSAGE = "message"
    SYSTEM = "system"
    TYPING = "typing"
    READ_RECEIPT = "read_receipt"
    PRESENCE = "presence"
    CHANNEL_ATTACHED = "channel_attached"
    CHANNEL_DETACHED = "channel_detached"
    TASK_CREATED = "task_created"
    TASK_COMPLETED = "task_completed"
    OBSERVATION = "observation"
    DTMF = "dtmf"


class EventStatus(StrEnum):
    """Where an event stands in the pipeline."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    BLOCKED = "blocked"


class Visibility(StrEnum):
    """Who may see an event. A channel id or a comma-separated list of ids also works."""

    ALL = "all"
    NONE = "none"
    TRANSPORT = "transport"
    INTELLIGENCE = "intelligence"
    INTERNAL = "internal"


class RoomStatus(StrEnum):
    """Lifecycle of a room."""

    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(slots=True)
class TextContent:
    """Plain text."""

    body: str
    language: str | None = None
    type: str = "text"


@dataclass(slots=True)
class AudioContent:
    """A reference to recorded audio, with its transcript when known."""

    url: str
    mime_type: str = "audio/wav"
    duration_seconds: float | None = None
    transcript: str | None = None
    type: str = "audio"


@dataclass(slots=True)
class SystemContent:
    """A machine-generated notice."""

    body: str
    code: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    type: str = "system"


EventContent = TextContent | AudioContent | SystemContent


@dataclass(slots=True)
class EventSource:
    """Where an event came from."""

    channel_id: str
    channel_type: ChannelType
    participant_id: str | None = None
    provider: str | None = None


@dataclass(slots=True)
class RoomEvent:
    """One committed (or blocked) event in a room's timeline.

    ``index`` is assigned by the store on commit: per room, from 0, gap-free.
    ``response_id`` is set by the engine on every part of a channel's answer (one id
    per answer, shared by all its parts); it is None on events that answer nothing.
    """

    room_id: str
    source: EventSource
    content: EventContent
    type: EventType = EventType.MESSAGE
    id: str = field(default_factory=new_id)
    index: int = 0
    status: EventStatus = EventStatus.PENDING
    blocked_by: str | None = None
    visibility: str = Visibility.ALL
    response_visibility: str | None = None
    chain_depth: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    response_id: str | None = None

    def copy(self, **changes: Any) -> RoomEvent:
        """A copy of this event with ``changes`` applied (the original is untouched)."""
        return replace(self, **changes)


@dataclass(slots=True)
class Room:
    """A conversation space that channels attach to."""

    id: str = field(default_factory=new_id)
    status: RoomStatus = RoomStatus.ACTIVE
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    closed_at: datetime | None = None


@dataclass(slots=True)
class ChannelBinding:
    """A channel attached to a room."""

    room_id: str
    channel_id: str
    channel_type: ChannelType
    attached_at: datetime = field(default_factory=utcnow)


@dataclass(slots=True)
class InboundMessage:
    """A message arriving from outside, before it is routed to a room."""

    channel_id: str
    sender_id: str
    content: EventContent
    event_type: EventType = EventType.MESSAGE
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class InboundResult:
    """What became of an inbound message."""

    event: RoomEvent | None = None
    blocked: bool = False
    reason: str | None = None


class TaskStatus(StrEnum):
    """Lifecycle of a delegated background task."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class Task:
    """A background task delegated from a room."""

    room_id: str
    name: str
    id: str = field(default_factory=new_id)
    status: TaskStatus = TaskStatus.PENDING
    result: Any = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    completed_at: datetime | None = None


@dataclass(slots=True)
class Observation:
    """Something the engine or a hook noted about a room (e.g. a chain-depth stop)."""

    room_id: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=utcnow)


RECENT_EVENTS = 50
"""How many of the room's latest events an answering channel gets in ``recent_events``."""


@dataclass(slots=True)
class RoomContext:
    """What a hook or a channel knows about the room an event belongs to.

    ``recent_events`` is filled for intelligence channels answering an event
    (``on_event``): up to :data:`RECENT_EVENTS` of the room's events, in index order,
    ending with that event. It is empty elsewhere.
    """

    room: Room
    bindings: list[ChannelBinding] = field(default_factory=list)
    recent_events: list[RoomEvent] = field(default_factory=list)

    def other_channels(self, exclude_channel_id: str) -> list[ChannelBinding]:
        """Every binding except ``exclude_channel_id``'s."""
        return [b for b in self.bindings if b.channel_id != exclude_channel_id]

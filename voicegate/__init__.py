"""voicegate: a voice-centric realtime gateway with RoomKit's public API."""

from voicegate.core.models import (
    AudioContent,
    ChannelDirection,
    ChannelType,
    EventSource,
    EventStatus,
    EventType,
    InboundMessage,
    InboundResult,
    Room,
    RoomEvent,
    SystemContent,
    TextContent,
    Visibility,
)
from voicegate.errors import (
    ChannelNotFoundError,
    ChannelNotRegisteredError,
    RoomKitError,
    RoomNotFoundError,
)
from voicegate.store.base import ConversationStore

__all__ = [
    "AudioContent",
    "ChannelDirection",
    "ChannelNotFoundError",
    "ChannelNotRegisteredError",
    "ChannelType",
    "ConversationStore",
    "EventSource",
    "EventStatus",
    "EventType",
    "InboundMessage",
    "InboundResult",
    "Room",
    "RoomEvent",
    "RoomKitError",
    "RoomNotFoundError",
    "SystemContent",
    "TextContent",
    "Visibility",
]

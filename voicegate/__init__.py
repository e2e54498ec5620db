"""voicegate: a voice-centric realtime gateway with RoomKit's public API.

``SQLiteStore`` is imported on first use: importing any part of voicegate runs this
module, and the room engine alone must not load sqlite3.
"""

from typing import TYPE_CHECKING, Any

from voicegate.core.channels import Channel, ChannelOutput, WebSocketChannel
from voicegate.core.framework import FrameworkEvent
from voicegate.core.hooks import HookExecution, HookResult, HookTrigger
from voicegate.core.identity import (
    IdentificationStatus,
    IdentityHookResult,
    IdentityResolver,
    IdentityResult,
)
from voicegate.core.kit import BackgroundTaskDeliveryStrategy, RoomKit
from voicegate.core.locks import InMemoryLockManager, RoomLockManager
from voicegate.core.models import (
    AudioContent,
    ChannelBinding,
    ChannelCategory,
    ChannelDirection,
    ChannelType,
    EventSource,
    EventStatus,
    EventType,
    InboundMessage,
    InboundResult,
    Observation,
    Room,
    RoomContext,
    RoomEvent,
    SystemContent,
    Task,
    TaskStatus,
    TextContent,
    Visibility,
)
from voicegate.core.ratelimit import RateLimit
from voicegate.core.realtime import (
    EphemeralEvent,
    EphemeralEventType,
    InMemoryRealtime,
    RealtimeBackend,
)
from voicegate.core.router import DefaultInboundRoomRouter, InboundRoomRouter
from voicegate.core.store import ConversationStore, InMemoryStore
from voicegate.core.tasks import InMemoryTaskRunner, TaskRunner
from voicegate.core.telemetry import (
    NoopTelemetryProvider,
    OpenTelemetryProvider,
    TelemetryConfig,
    TelemetryProvider,
)
from voicegate.errors import (
    ChannelAlreadyRegisteredError,
    ChannelNotFoundError,
    ChannelNotRegisteredError,
    ProcessTimeoutError,
    RoomClosedError,
    RoomKitError,
    RoomNotFoundError,
)

if TYPE_CHECKING:
    from voicegate.store.sqlite import SQLiteStore

__all__ = [
    "AudioContent",
    "BackgroundTaskDeliveryStrategy",
    "Channel",
    "ChannelAlreadyRegisteredError",
    "ChannelBinding",
    "ChannelCategory",
    "ChannelDirection",
    "ChannelNotFoundError",
    "ChannelNotRegisteredError",
    "ChannelOutput",
    "ChannelType",
    "ConversationStore",
    "DefaultInboundRoomRouter",
    "EphemeralEvent",
    "EphemeralEventType",
    "EventSource",
    "EventStatus",
    "EventType",
    "FrameworkEvent",
    "HookExecution",
    "HookResult",
    "HookTrigger",
    "IdentificationStatus",
    "IdentityHookResult",
    "IdentityResolver",
    "IdentityResult",
    "InMemoryLockManager",
    "InMemoryRealtime",
    "InMemoryStore",
    "InMemoryTaskRunner",
    "InboundMessage",
    "InboundResult",
    "InboundRoomRouter",
    "NoopTelemetryProvider",
    "Observation",
    "OpenTelemetryProvider",
    "ProcessTimeoutError",
    "RateLimit",
    "RealtimeBackend",
    "Room",
    "RoomClosedError",
    "RoomContext",
    "RoomEvent",
    "RoomKit",
    "RoomKitError",
    "RoomLockManager",
    "RoomNotFoundError",
    "SQLiteStore",
    "SystemContent",
    "Task",
    "TaskRunner",
    "TaskStatus",
    "TelemetryConfig",
    "TelemetryProvider",
    "TextContent",
    "Visibility",
    "WebSocketChannel",
]


def __getattr__(name: str) -> Any:
    """``SQLiteStore``, imported when first asked for."""
    if name == "SQLiteStore":
        from voicegate.store.sqlite import SQLiteStore

        return SQLiteStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

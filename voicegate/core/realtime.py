"""Ephemeral events (typing, presence, read receipts): published, never stored."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from voicegate.core.models import new_id, utcnow

logger = logging.getLogger(__name__)


class EphemeralEventType(StrEnum):
    """The kinds of ephemeral event."""

    TYPING_START = "typing_start"
    TYPING_STOP = "typing_stop"
    PRESENCE_ONLINE = "presence_online"
    PRESENCE_AWAY = "presence_away"
    PRESENCE_OFFLINE = "presence_offline"
    READ_RECEIPT = "read_receipt"
    CUSTOM = "custom"


@dataclass(slots=True)
class EphemeralEvent:
    """A short-lived notice about a room, delivered to its current subscribers only."""

    room_id: str
    type: EphemeralEventType
    user_id: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    timestamp: datetime = field(default_factory=utcnow)


_PRESENCE = {
    "online": EphemeralEventType.PRESENCE_ONLINE,
    "away": EphemeralEventType.PRESENCE_AWAY,
    "offline": EphemeralEventType.PRESENCE_OFFLINE,
}


def typing_event(
    room_id: str, user_id: str, is_typing: bool, data: dict[str, Any] | None = None
) -> EphemeralEvent:
    """typing_start (or typing_stop) for ``user_id``."""
    kind = EphemeralEventType.TYPING_START if is_typing else EphemeralEventType.TYPING_STOP
    return EphemeralEvent(room_id, kind, user_id, dict(data or {}))


def presence_event(room_id: str, user_id: str, status: str) -> EphemeralEvent:
    """A presence change; ``status`` is "online", "away" or "offline" (else ValueError)."""
    kind = _PRESENCE.get(status)
    if kind is None:
        raise ValueError(f"presence status must be one of {sorted(_PRESENCE)}, got {status!r}")
    return EphemeralEvent(room_id, kind, user_id)


def read_receipt_event(room_id: str, user_id: str, event_id: str) -> EphemeralEvent:
    """``user_id`` read ``event_id``."""
    return EphemeralEvent(room_id, EphemeralEventType.READ_RECEIPT, user_id, {"event_id": event_id})


EphemeralCallback = Callable[[EphemeralEvent], Awaitable[None]]


class RealtimeBackend(ABC):
    """Publishes ephemeral events to the subscribers of a room."""

    @abstractmethod
    async def publish(self, event: EphemeralEvent) -> None:
        """Hand ``event`` to every subscriber of its room."""

    @abstractmethod
    async def subscribe(self, room_id: str, callback: EphemeralCallback) -> str:
        """Call ``callback`` for each event of ``room_id``; returns a subscription id."""

    @abstractmethod
    async def unsubscribe(self, subscription_id: str) -> bool:
        """Stop a subscription; True if it existed."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every subscription."""


class _Subscriber:
    """A callback fed from its own bounded queue by its own consumer task."""

    def __init__(self, room_id: str, callback: EphemeralCallback, queue_size: int) -> None:
        self.room_id = room_id
        self._callback = callback
        self._queue: asyncio.Queue[EphemeralEvent] = asyncio.Queue(queue_size)
        self._task = asyncio.create_task(self._consume())
        self.dropped = 0

    def offer(self, event: EphemeralEvent) -> None:
        """Queue ``event``, dropping the oldest queued one when full."""
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    async def _consume(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._callback(event)
            except Exception:
                logger.exception("ephemeral callback for room %s failed", self.room_id)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class InMemoryRealtime(RealtimeBackend):
    """In-process realtime: each subscriber gets a queue of ``queue_size`` that drops the oldest."""

    def __init__(self, queue_size: int = 100) -> None:
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self._queue_size = queue_size
        self._subscribers: dict[str, _Subscriber] = {}
        self._by_room: dict[str, set[str]] = {}

    async def publish(self, event: EphemeralEvent) -> None:
        """Queue ``event`` for every subscriber of its room."""
        for subscription_id in self._by_room.get(event.room_id, ()):
            self._subscribers[subscription_id].offer(event)

    async def subscribe(self, room_id: str, callback: EphemeralCallback) -> str:
        """Start a subscriber for ``room_id``; returns its id."""
        subscription_id = new_id()
        self._subscribers[subscription_id] = _Subscriber(room_id, callback, self._queue_size)
        self._by_room.setdefault(room_id, set()).add(subscription_id)
        return subscription_id

    async def unsubscribe(self, subscription_id: str) -> bool:
        """Stop a subscriber; True once, then False."""
        subscriber = self._subscribers.pop(subscription_id, None)
        if subscriber is None:
            return False
        room = self._by_room[subscriber.room_id]
        room.discard(subscription_id)
        if not room:
            del self._by_room[subscriber.room_id]
        await subscriber.stop()
        return True

    async def close(self) -> None:
        """Stop every subscriber."""
        for subscription_id in list(self._subscribers):
            await self.unsubscribe(subscription_id)

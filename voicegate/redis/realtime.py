"""Ephemeral events shared by every process that uses the same Redis server (pub/sub)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import datetime
from typing import Any

from voicegate.core.realtime import (
    EphemeralCallback,
    EphemeralEvent,
    EphemeralEventType,
    InMemoryRealtime,
    RealtimeBackend,
)
from voicegate.redis.client import connect

logger = logging.getLogger(__name__)


def encode(event: EphemeralEvent) -> str:
    """The event as compact JSON."""
    return json.dumps(
        {
            "room_id": event.room_id,
            "type": event.type.value,
            "user_id": event.user_id,
            "data": event.data,
            "id": event.id,
            "timestamp": event.timestamp.isoformat(),
        },
        separators=(",", ":"),
    )


def decode(payload: str | bytes) -> EphemeralEvent:
    """The inverse of :func:`encode`."""
    fields = json.loads(payload)
    return EphemeralEvent(
        room_id=fields["room_id"],
        type=EphemeralEventType(fields["type"]),
        user_id=fields["user_id"],
        data=fields["data"],
        id=fields["id"],
        timestamp=datetime.fromisoformat(fields["timestamp"]),
    )


class RedisRealtime(RealtimeBackend):
    """Publishes on a Redis channel per room; this process's subscribers are fed
    from it through an :class:`InMemoryRealtime` (bounded queues that drop the
    oldest, one failing callback harms no other).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        queue_size: int = 100,
        channel_prefix: str = "voicegate:realtime:",
    ) -> None:
        self._client: Any = connect(url)
        self._pubsub: Any = self._client.pubsub(ignore_subscribe_messages=True)
        self._local = InMemoryRealtime(queue_size)
        self._prefix = channel_prefix
        self._rooms: dict[str, str] = {}  # subscription id -> room id
        self._reader: asyncio.Task[None] | None = None

    async def publish(self, event: EphemeralEvent) -> None:
        """Publish ``event`` to every process subscribed to its room."""
        await self._client.publish(self._prefix + event.room_id, encode(event))

    async def subscribe(self, room_id: str, callback: EphemeralCallback) -> str:
        """Call ``callback`` for each event of ``room_id`` published by any process."""
        if room_id not in self._rooms.values():
            await self._listen_to(self._prefix + room_id)
        subscription_id = await self._local.subscribe(room_id, callback)
        self._rooms[subscription_id] = room_id
        if self._reader is None:
            self._reader = asyncio.create_task(self._read())
        return subscription_id

    async def unsubscribe(self, subscription_id: str) -> bool:
        """Stop a subscription; True once, then False."""
        room_id = self._rooms.pop(subscription_id, None)
        if room_id is None:
            return False
        await self._local.unsubscribe(subscription_id)
        if room_id not in self._rooms.values():
            await self._pubsub.unsubscribe(self._prefix + room_id)
        return True

    async def _listen_to(self, channel: str) -> None:
        """Subscribe to ``channel`` and return once the server counts the subscription."""
        await self._pubsub.subscribe(channel)
        while True:
            [(_, count)] = await self._client.pubsub_numsub(channel)
            if count:
                return
            await asyncio.sleep(0.001)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except Exception:
                logger.exception("reading Redis pub/sub failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            if message is None or message["type"] != "message":
                continue
            try:
                event = decode(message["data"])
            except (ValueError, KeyError, TypeError):
                logger.warning("ignored a malformed realtime message on %s", message["channel"])
                continue
            await self._local.publish(event)

    async def close(self) -> None:
        """Stop every subscription and close the Redis connections."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._rooms.clear()
        await self._local.close()
        await self._pubsub.aclose()
        await self._client.aclose()

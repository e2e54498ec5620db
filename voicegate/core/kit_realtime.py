"""The ``RoomKit`` methods for ephemeral events: typing, presence and read receipts."""

from __future__ import annotations

from typing import Any

from voicegate.core.realtime import (
    EphemeralCallback,
    RealtimeBackend,
    presence_event,
    read_receipt_event,
    typing_event,
)


class KitRealtime:
    """Ephemeral events for ``RoomKit``, published and subscribed through its realtime
    backend (never stored)."""

    _realtime: RealtimeBackend

    async def publish_typing(
        self, room_id: str, user_id: str, is_typing: bool = True, data: dict[str, Any] | None = None
    ) -> None:
        """Publish typing_start (or typing_stop) for ``user_id``."""
        await self._realtime.publish(typing_event(room_id, user_id, is_typing, data))

    async def publish_presence(self, room_id: str, user_id: str, status: str) -> None:
        """Publish a presence change: ``status`` is "online", "away" or "offline"."""
        await self._realtime.publish(presence_event(room_id, user_id, status))

    async def publish_read_receipt(self, room_id: str, user_id: str, event_id: str) -> None:
        """Publish that ``user_id`` read ``event_id``."""
        await self._realtime.publish(read_receipt_event(room_id, user_id, event_id))

    async def subscribe_room(self, room_id: str, callback: EphemeralCallback) -> str:
        """Call ``callback`` for each ephemeral event of the room; returns a subscription id."""
        return await self._realtime.subscribe(room_id, callback)

    async def unsubscribe_room(self, subscription_id: str) -> bool:
        """Stop a subscription; True if it existed."""
        return await self._realtime.unsubscribe(subscription_id)

"""Inbound routing: which room an inbound message belongs to."""

from __future__ import annotations

from abc import ABC, abstractmethod

from voicegate.core.models import InboundMessage, RoomStatus
from voicegate.core.store import ConversationStore


class InboundRoomRouter(ABC):
    """Picks the room for an inbound message."""

    @abstractmethod
    async def route(self, message: InboundMessage, store: ConversationStore) -> str | None:
        """The id of the room ``message`` goes to, or None to open a new room."""


class DefaultInboundRoomRouter(InboundRoomRouter):
    """Sends a message to the active room its channel is attached to (the oldest, if several).

    Remembers the room found per channel and checks on each use that the channel is
    still attached there and the room still active.
    """

    PAGE = 200

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    async def route(self, message: InboundMessage, store: ConversationStore) -> str | None:
        """The room ``message.channel_id`` is attached to, or None."""
        channel_id = message.channel_id
        room_id = self._known.get(channel_id)
        if room_id is not None and await self._attached(store, room_id, channel_id):
            return room_id
        offset = 0
        while rooms := await store.list_rooms(offset=offset, limit=self.PAGE):
            for room in rooms:
                if room.status is RoomStatus.ACTIVE and await self._attached(
                    store, room.id, channel_id
                ):
                    self._known[channel_id] = room.id
                    return room.id
            offset += len(rooms)
        self._known.pop(channel_id, None)
        return None

    @staticmethod
    async def _attached(store: ConversationStore, room_id: str, channel_id: str) -> bool:
        room = await store.get_room(room_id)
        if room is None or room.status is not RoomStatus.ACTIVE:
            return False
        return any(b.channel_id == channel_id for b in await store.list_bindings(room_id))

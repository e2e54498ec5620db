"""The rooms and channels the engine knows: channel registry and a cache of room state."""

from __future__ import annotations

from dataclasses import dataclass

from voicegate.core.channels import Channel, WebSocketChannel
from voicegate.core.models import ChannelBinding, Room, RoomContext, RoomStatus, utcnow
from voicegate.core.store import ConversationStore
from voicegate.errors import (
    ChannelAlreadyRegisteredError,
    ChannelNotFoundError,
    ChannelNotRegisteredError,
    RoomClosedError,
    RoomNotFoundError,
)


@dataclass(slots=True)
class RoomState:
    """A room, its bindings by channel id, and the context handed to hooks and channels.

    The context is shared by every event of the room until the next attach or detach:
    treat it as read-only.
    """

    room: Room
    bindings: dict[str, ChannelBinding]
    context: RoomContext


class RoomDirectory:
    """Registered channels, and rooms with their bindings cached over the store.

    The store stays the source of truth: a room missing from the cache (after a
    restart with a persistent store) is loaded from it.
    """

    def __init__(self, store: ConversationStore) -> None:
        self._store = store
        self._channels: dict[str, Channel] = {}
        self._rooms: dict[str, RoomState] = {}

    @property
    def channels(self) -> dict[str, Channel]:
        """The registered channels by id."""
        return self._channels

    def register(self, channel: Channel) -> None:
        """Register ``channel``; registering the same object again is a no-op."""
        known = self._channels.get(channel.channel_id)
        if known is not None and known is not channel:
            raise ChannelAlreadyRegisteredError(
                f"another channel is already registered as {channel.channel_id!r}"
            )
        self._channels[channel.channel_id] = channel

    def unregister(self, channel_id: str) -> Channel | None:
        """Forget a channel (detach it from its rooms first); returns it if it was registered."""
        return self._channels.pop(channel_id, None)

    def channel(self, channel_id: str) -> Channel:
        """The registered channel ``channel_id``, or ChannelNotRegisteredError."""
        channel = self._channels.get(channel_id)
        if channel is None:
            raise ChannelNotRegisteredError(f"channel {channel_id!r} is not registered")
        return channel

    def websocket(self, channel_id: str) -> WebSocketChannel:
        """The registered WebSocketChannel ``channel_id``, or ChannelNotRegisteredError."""
        channel = self.channel(channel_id)
        if not isinstance(channel, WebSocketChannel):
            raise ChannelNotRegisteredError(f"channel {channel_id!r} is not a WebSocketChannel")
        return channel

    async def create(self, room: Room) -> RoomState:
        """Store a new room and cache it."""
        await self._store.create_room(room)
        state = self._rooms[room.id] = RoomState(room, {}, RoomContext(room, []))
        return state

    async def get(self, room_id: str) -> RoomState:
        """The state of ``room_id``, loaded from the store on a cache miss; or RoomNotFoundError."""
        state = self._rooms.get(room_id)
        if state is not None:
            return state
        room = await self._store.get_room(room_id)
        if room is None:
            raise RoomNotFoundError(f"room {room_id!r} does not exist")
        bindings = {b.channel_id: b for b in await self._store.list_bindings(room_id)}
        state = self._rooms[room_id] = RoomState(
            room, bindings, RoomContext(room, list(bindings.values()))
        )
        return state

    def forget(self, room_id: str) -> None:
        """Drop the cached state of ``room_id``: the next use reads it from the store
        (another process changed its bindings or status)."""
        self._rooms.pop(room_id, None)

    async def attached_channel(self, room_id: str, channel_id: str) -> Channel:
        """The channel that may send into ``room_id``: registered, attached, room active."""
        state = await self.get(room_id)
        channel = self.channel(channel_id)
        if channel_id not in state.bindings:
            raise ChannelNotFoundError(f"channel {channel_id!r} is not attached to {room_id!r}")
        if state.room.status is not RoomStatus.ACTIVE:
            raise RoomClosedError(f"room {room_id!r} is closed")
        return channel

    async def close(self, room_id: str) -> Room:
        """Mark ``room_id`` closed (at once in the cache, then in the store: if that fails,
        the room is open again and the error raised). A closed room leaves the cache: it is
        read from the store again if anyone asks."""
        state = await self.get(room_id)
        room = state.room
        before = room.status, room.closed_at
        room.status, room.closed_at = RoomStatus.CLOSED, utcnow()
        try:
            await self._store.update_room(room)
        except BaseException:
            room.status, room.closed_at = before
            raise
        if self._rooms.get(room_id) is state:
            del self._rooms[room_id]
        return room

    async def attach(self, room_id: str, channel_id: str) -> ChannelBinding:
        """Bind the registered ``channel_id`` to ``room_id``."""
        state = await self.get(room_id)
        channel = self.channel(channel_id)
        binding = ChannelBinding(room_id, channel_id, channel.channel_type)
        await self._store.add_binding(binding)
        state.bindings[channel_id] = binding
        self._refresh(state)
        return binding

    async def detach(self, room_id: str, channel_id: str) -> None:
        """Unbind ``channel_id`` from ``room_id``, or ChannelNotFoundError."""
        state = await self.get(room_id)
        if not await self._store.remove_binding(room_id, channel_id):
            raise ChannelNotFoundError(f"channel {channel_id!r} is not attached to {room_id!r}")
        state.bindings.pop(channel_id, None)
        self._refresh(state)

    @staticmethod
    def _refresh(state: RoomState) -> None:
        state.context = RoomContext(state.room, list(state.bindings.values()))

"""Channels: transports carry a room's events out, intelligence channels answer them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from voicegate.core.hooks import HookOrigin
from voicegate.core.models import (
    ChannelCategory,
    ChannelDirection,
    ChannelType,
    EventContent,
    EventType,
    RoomContext,
    RoomEvent,
)

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class ChannelOutput:
    """An intelligence channel's answer: the engine sends it into the room from that channel."""

    content: EventContent
    event_type: EventType = EventType.MESSAGE
    metadata: dict[str, Any] = field(default_factory=dict)


class Channel:
    """Base class of channels; subclass it and set ``channel_type`` (and ``category``).

    Transports override :meth:`deliver`; intelligence channels (``category = INTELLIGENCE``)
    override :meth:`on_event`. A channel with ``direction = INBOUND`` is never delivered to.
    """

    channel_type: ChannelType = ChannelType.SYSTEM
    category: ChannelCategory = ChannelCategory.TRANSPORT
    direction: ChannelDirection = ChannelDirection.BIDIRECTIONAL

    def __init__(self, channel_id: str) -> None:
        if not channel_id:
            raise ValueError("channel_id must be a non-empty string")
        self.channel_id = channel_id
        self.origin = HookOrigin(channel_id, self.channel_type, self.direction)

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        """Carry ``event`` out of the room (transports)."""

    async def on_event(self, event: RoomEvent, context: RoomContext) -> ChannelOutput | None:
        """Answer ``event``, or return None to stay silent (intelligence channels)."""
        return None

    async def close(self) -> None:
        """Release the channel's resources; called by ``RoomKit.close()``."""


SendFn = Callable[[str, RoomEvent], Awaitable[None]]
StreamSendFn = Callable[..., Awaitable[None]]


@dataclass(slots=True)
class WebSocketConnection:
    """One client connection of a :class:`WebSocketChannel`."""

    connection_id: str
    send_fn: SendFn
    room_id: str | None = None


class WebSocketChannel(Channel):
    """Delivers each event to the connections registered with ``kit.connect_websocket``.

    ``send_fn(connection_id, event)`` is awaited per connection; a connection bound to a
    room (``room_id``) only gets that room's events. A failing connection is logged and
    does not stop the others.
    """

    channel_type = ChannelType.WEBSOCKET

    def __init__(self, channel_id: str) -> None:
        super().__init__(channel_id)
        self._connections: dict[str, WebSocketConnection] = {}

    @property
    def connections(self) -> dict[str, WebSocketConnection]:
        """The open connections by id (read-only view by convention)."""
        return self._connections

    def add_connection(self, connection: WebSocketConnection) -> None:
        """Register (or replace) a connection."""
        self._connections[connection.connection_id] = connection

    def remove_connection(self, connection_id: str) -> bool:
        """Forget a connection; True if it was registered."""
        return self._connections.pop(connection_id, None) is not None

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        """Send ``event`` to every connection that follows its room."""
        targets = [
            c for c in self._connections.values() if c.room_id is None or c.room_id == event.room_id
        ]
        if len(targets) == 1:
            await self._send(targets[0], event)
        elif targets:
            await asyncio.gather(*(self._send(c, event) for c in targets))

    async def _send(self, connection: WebSocketConnection, event: RoomEvent) -> None:
        try:
            await connection.send_fn(connection.connection_id, event)
        except Exception:
            logger.exception(
                "websocket %s/%s: send failed", self.channel_id, connection.connection_id
            )

"""Channels: transports carry a room's events out, intelligence channels answer them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
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
    """One part of an intelligence channel's answer: the engine sends it into the room from
    that channel, as an event one step deeper in the chain."""

    content: EventContent
    event_type: EventType = EventType.MESSAGE
    metadata: dict[str, Any] = field(default_factory=dict)


AnswerParts = AsyncIterator[ChannelOutput]
"""An answer streamed in parts: the engine commits each part as its own event when it comes."""


class Channel:
    """Base class of channels; subclass it and set ``channel_type`` (and ``category``).

    Transports override :meth:`deliver`; intelligence channels (``category = INTELLIGENCE``)
    override :meth:`on_event`. A channel with ``direction = INBOUND`` is never delivered to.
    """

    channel_type: ChannelType = ChannelType.SYSTEM
    category: ChannelCategory = ChannelCategory.TRANSPORT
    direction: ChannelDirection = ChannelDirection.BIDIRECTIONAL
    cancel_previous_answer: bool = False
    """Intelligence channels: whether a new answer of this channel in a room cancels its
    answer still streaming there (the room moved on)."""

    def __init__(self, channel_id: str) -> None:
        if not channel_id:
            raise ValueError("channel_id must be a non-empty string")
        self.channel_id = channel_id
        self.origin = HookOrigin(channel_id, self.channel_type, self.direction)

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        """Carry ``event`` out of the room (transports).

        The engine calls it outside the room's lock, one event at a time per room, in
        commit order; a channel that falls behind is dropped from the room (:meth:`on_dropped`).
        """

    async def on_event(
        self, event: RoomEvent, context: RoomContext
    ) -> ChannelOutput | AnswerParts | None:
        """Answer ``event`` (intelligence channels): a whole answer, an answer in parts, or
        None to stay silent.

        The engine commits a whole answer before the event's processing returns. Parts are
        committed one by one as the iterator yields them, in the background, until it ends
        or the answer is cancelled (``RoomKit.cancel_response``, or a newer answer of a
        channel with :attr:`cancel_previous_answer`); every part carries the answer's
        ``response_id``. ``context.recent_events`` holds the room's latest events.
        """
        return None

    async def on_committed(self, event: RoomEvent, context: RoomContext) -> None:
        """The engine committed ``event``, which this channel sent.

        It comes in order with the events delivered to this channel in the room, and
        ``send_event`` waits for it before asking anyone to answer, so it always runs
        before any answer to the event exists. Blocked events are not reported.
        """

    async def on_dropped(self, room_id: str) -> None:
        """The engine dropped this channel from ``room_id``: it fell too far behind there
        (its deliveries were too slow). It is detached already; the events still queued for
        it were discarded."""

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

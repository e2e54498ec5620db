"""Deliveries to a room's members: outside the room lock, in order, never waiting on the slow.

The pipeline commits an event under the room's lock and hands it here to the queue of
each member it goes to, which takes no ``await``. Each member of a room with something
queued has one task that delivers the queue in order: every member sees a room's events
in commit order, and a slow member delays nobody but itself. The notice that a member's
own event was committed (``Channel.on_committed``) goes through its queue too, so it
comes in order with what the member is delivered, and the sender waits for it alone.

A member that falls ``max_pending`` items behind in a room is dropped from it: its
queue is discarded and ``on_overflow(room_id, channel)`` is called (the kit detaches the
channel and tells it with ``Channel.on_dropped``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from voicegate.core.channels import Channel
from voicegate.core.models import RoomContext, RoomEvent

logger = logging.getLogger(__name__)

MAX_PENDING = 256
"""Items a member may have queued in one room before it is dropped from the room."""

Overflow = Callable[[str, Channel], Coroutine[Any, Any, None]]


@dataclass(slots=True, eq=False)
class _Item:
    event: RoomEvent
    context: RoomContext
    reported: asyncio.Future[None] | None = None
    """Set for the notice that the member's own event was committed; resolved once done."""


@dataclass(slots=True, eq=False)
class _Queue:
    room_id: str
    channel: Channel
    items: deque[_Item] = field(default_factory=deque)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    """Set while no task delivers the queue."""
    task: asyncio.Task[None] | None = None
    dropped: bool = False
    """Fell too far behind: takes nothing more until the member leaves the room."""


class MemberQueues:
    """One ordered, bounded delivery queue per (room, member); see the module docstring.

    A queue and its task exist only while something is queued (or the member is dropped).
    """

    def __init__(self, on_overflow: Overflow, max_pending: int = MAX_PENDING) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self._on_overflow = on_overflow
        self._max_pending = max_pending
        self._queues: dict[tuple[str, str], _Queue] = {}
        self._dropping: set[asyncio.Task[None]] = set()

    def deliver(
        self, room_id: str, channel: Channel, event: RoomEvent, context: RoomContext
    ) -> int:
        """Queue ``event`` for ``channel``; returns how many items it has queued now."""
        return self._put(room_id, channel, _Item(event, context))

    def report(
        self, room_id: str, channel: Channel, event: RoomEvent, context: RoomContext
    ) -> asyncio.Future[None]:
        """Queue the notice that ``channel``'s own ``event`` was committed; the future is
        done once the channel took it (or was dropped)."""
        reported = asyncio.get_running_loop().create_future()
        self._put(room_id, channel, _Item(event, context, reported))
        return reported

    def forget(self, room_id: str, channel_id: str) -> None:
        """``channel_id`` left ``room_id``: a later one of that id starts afresh (what is
        queued is still delivered)."""
        self._queues.pop((room_id, channel_id), None)

    async def wait(self, room_id: str | None = None) -> None:
        """Return once every queue (of ``room_id``, or all) is delivered."""
        while busy := [
            q
            for q in self._queues.values()
            if q.task is not None and (room_id is None or q.room_id == room_id)
        ]:
            await asyncio.gather(*(q.idle.wait() for q in busy))

    async def close(self, grace: float = 5.0) -> None:
        """Deliver what is queued (for at most ``grace`` seconds), then stop every task."""
        try:
            async with asyncio.timeout(grace):
                await self.wait()
        except TimeoutError:
            logger.warning("deliveries still queued after %.0f s are dropped", grace)
        tasks = [q.task for q in self._queues.values() if q.task is not None]
        tasks += self._dropping
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._queues.clear()

    def _put(self, room_id: str, channel: Channel, item: _Item) -> int:
        key = (room_id, channel.channel_id)
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = _Queue(room_id, channel)
        if not queue.dropped and len(queue.items) >= self._max_pending:
            self._drop(queue)
        if queue.dropped:
            _resolve(item)
            return 0
        queue.items.append(item)
        if queue.task is None:
            queue.idle.clear()
            queue.task = asyncio.create_task(
                self._run(key, queue), name=f"deliver-{channel.channel_id}-{room_id}"
            )
        return len(queue.items)

    def _drop(self, queue: _Queue) -> None:
        logger.warning(
            "channel %s fell %d events behind in room %s: dropped from the room",
            queue.channel.channel_id,
            len(queue.items),
            queue.room_id,
        )
        queue.dropped = True
        while queue.items:
            _resolve(queue.items.popleft())
        task = asyncio.create_task(self._on_overflow(queue.room_id, queue.channel))
        self._dropping.add(task)
        task.add_done_callback(self._dropping.discard)

    async def _run(self, key: tuple[str, str], queue: _Queue) -> None:
        channel = queue.channel
        try:
            while queue.items:
                item = queue.items.popleft()
                try:
                    if item.reported is None:
                        await channel.deliver(item.event, item.context)
                    else:
                        await channel.on_committed(item.event, item.context)
                except Exception:
                    logger.exception(
                        "channel %s failed to take event %s", channel.channel_id, item.event.id
                    )
                finally:
                    _resolve(item)
        finally:
            while queue.items:  # cancelled: nobody waits on them
                _resolve(queue.items.popleft())
            queue.task = None
            queue.idle.set()
            if not queue.dropped and self._queues.get(key) is queue:
                del self._queues[key]


def _resolve(item: _Item) -> None:
    if item.reported is not None and not item.reported.done():
        item.reported.set_result(None)

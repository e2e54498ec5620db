"""Room events across processes: a store wrapper that announces commits on Redis pub/sub
and delivers the events other processes commit, read back from the store by index.

Every process that shares a room runs its own ``RoomKit`` on one store (PostgreSQL) and
one Redis server. An event committed in one process is delivered there by its own
pipeline; the :class:`FanoutStore` then publishes a notice (room, index) on one Redis
channel. Every other process with channels attached to that room reads the events after
the last index it delivered from the store and hands them, in index order, to its
attached transports (``RoomKit.deliver_committed``). The store is the truth: a notice is
only a wake-up, so a lost notice (a Redis restart, a reconnect) costs time, never an
event, and a process catches up on every room it follows once it is reconnected.

Exactly once per channel: each process keeps one cursor (the last index delivered) per
room it follows, moved only under a per-room lock; its own commits move the cursor too,
after the events before them were delivered, so local and remote events reach a channel
in index order. Bindings and room status changes are announced as well, and the other
processes read those rooms from the store again (``RoomKit.forget_room``).

With a :class:`~voicegate.redis.lease.ProcessLease`, the bindings of this process's voice
channels (one caller's session each) are recorded under its lease, so that they can be
removed once it dies without detaching them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import defaultdict
from typing import Any, Protocol

from voicegate.core.models import (
    ChannelBinding,
    ChannelType,
    Observation,
    Room,
    RoomEvent,
    Task,
    TaskStatus,
)
from voicegate.core.store import ConversationStore
from voicegate.redis.client import connect, connection_errors
from voicegate.redis.lease import ProcessLease

logger = logging.getLogger(__name__)

CATCH_UP_BATCH = 100
"""Events read from the store per query while catching up."""

RETRY_S = 0.5
"""Pause between attempts to read Redis again after it failed."""


class FanoutSink(Protocol):
    """Where remote commits go: a ``RoomKit`` (``deliver_committed``, ``forget_room``)."""

    async def deliver_committed(self, event: RoomEvent) -> None: ...

    def forget_room(self, room_id: str) -> None: ...


class FanoutStore(ConversationStore):
    """``store`` shared with other processes, with their room events delivered here.

    ``redis_url`` is the Redis server of the fan-out; ``channel`` its pub/sub channel
    (one for every room: each process filters the rooms it follows); ``lease`` records the
    bindings of voice channels (see the module). Call :meth:`start` with the kit once it
    is built; :meth:`close` closes the wrapped store too.
    """

    def __init__(
        self,
        store: ConversationStore,
        redis_url: str,
        *,
        channel: str = "voicegate:events",
        lease: ProcessLease | None = None,
    ) -> None:
        self.inner = store
        self._lease = lease
        self._url = redis_url
        self._channel = channel
        self._origin = uuid.uuid4().hex
        self._sink: FanoutSink | None = None
        self._client: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._cursors: dict[str, int] = {}  # room id -> last index delivered here
        self._members: dict[str, set[str]] = defaultdict(set)  # room id -> local channel ids
        self._room_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._committing: set[str] = set()  # ids of events this process is committing
        self._outbox: list[str] = []  # notices waiting for the publisher, in order
        self._outbox_filled = asyncio.Event()
        self._publisher: asyncio.Task[None] | None = None

    async def start(self, sink: FanoutSink) -> None:
        """Subscribe to the notices and deliver other processes' events to ``sink``."""
        self._sink = sink
        self._client = connect(self._url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel)
        self._reader = asyncio.create_task(self._read(), name="voicegate-fanout")
        self._publisher = asyncio.create_task(self._publish(), name="voicegate-fanout-notices")

    async def ping(self) -> None:
        """Raise unless Redis answers (for ``/healthz``)."""
        if self._client is None:
            raise ConnectionError("the fan-out is not started")
        await self._client.ping()

    @property
    def failure(self) -> str | None:
        """The wrapped store's failure (see :attr:`ConversationStore.failure`)."""
        return self.inner.failure

    # the store, with notices
    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._publisher is not None:  # it sends what is queued, then ends
            publisher, self._publisher = self._publisher, None
            self._outbox_filled.set()
            await publisher
        if self._pubsub is not None:
            await self._pubsub.aclose()
            await self._client.aclose()
            self._pubsub = self._client = None
        await self.inner.close()

    async def add_event(self, event: RoomEvent) -> RoomEvent:
        """Commit ``event`` (under its room's lock): the events before it that other
        processes committed are delivered here first, then the others hear of it."""
        self._committing.add(event.id)
        try:
            committed = await self.inner.add_event(event)
            room_id = committed.room_id
            if room_id in self._cursors:
                async with self._room_locks[room_id]:
                    await self._deliver_until(room_id, committed.index - 1)
                    if room_id in self._cursors:
                        self._cursors[room_id] = max(self._cursors[room_id], committed.index)
        finally:
            self._committing.discard(event.id)
        self._announce({"room": committed.room_id, "index": committed.index})
        return committed

    async def add_binding(self, binding: ChannelBinding) -> None:
        room_id = binding.room_id
        if self._lease is not None and binding.channel_type is ChannelType.VOICE:
            try:
                await self._lease.hold(room_id, binding.channel_id)
            except connection_errors() as exc:
                logger.warning(
                    "binding of %s not recorded under this process's lease (%s): if the process"
                    " dies, it stays in room %s",
                    binding.channel_id,
                    exc,
                    room_id,
                )
        await self.inner.add_binding(binding)
        if room_id not in self._cursors:
            async with self._room_locks[room_id]:
                if room_id not in self._cursors:
                    self._cursors[room_id] = await self.inner.count_events(room_id) - 1
        self._members[room_id].add(binding.channel_id)
        self._announce({"room": room_id})

    async def remove_binding(self, room_id: str, channel_id: str) -> bool:
        removed = await self.inner.remove_binding(room_id, channel_id)
        if self._lease is not None:
            try:
                await self._lease.release(room_id, channel_id)
            except connection_errors() as exc:
                logger.warning("binding of %s left recorded (%s)", channel_id, exc)
        members = self._members.get(room_id)
        if members is not None:
            members.discard(channel_id)
            if not members:
                del self._members[room_id]
                self._cursors.pop(room_id, None)
                self._room_locks.pop(room_id, None)
        if removed:
            self._announce({"room": room_id})
        return removed

    async def update_room(self, room: Room) -> Room:
        updated = await self.inner.update_room(room)
        self._announce({"room": room.id})
        return updated

    def _announce(self, notice: dict[str, Any]) -> None:
        """Publish ``notice`` in the background: a slow or absent Redis never holds a room."""
        if self._publisher is None:
            return
        self._outbox.append(json.dumps({**notice, "from": self._origin}, separators=(",", ":")))
        self._outbox_filled.set()

    async def _publish(self) -> None:
        """Send the queued notices, in order, all that queued up meanwhile in one round trip
        (a pipeline); end once :meth:`close` asked and nothing is queued."""
        while self._publisher is not None or self._outbox:
            await self._outbox_filled.wait()
            self._outbox_filled.clear()
            batch, self._outbox = self._outbox, []
            if not batch:
                continue
            try:
                async with self._client.pipeline(transaction=False) as pipe:
                    for payload in batch:
                        pipe.publish(self._channel, payload)
                    await pipe.execute()
            except Exception as exc:  # the others catch up from the store once Redis is back
                logger.warning("%d fan-out notice(s) not published: %s", len(batch), exc)

    # the other processes' events
    async def _read(self) -> None:
        lost = False
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    logger.warning("lost the fan-out's Redis connection (%s); retrying", exc)
                lost = True
                await asyncio.sleep(RETRY_S)
                continue
            if lost:  # reconnected and subscribed again: notices may have been missed
                lost = False
                logger.info("fan-out reconnected to Redis; catching up from the store")
                await self._catch_up_all()
            if message is not None:
                await self._take(message["data"])

    async def _take(self, payload: bytes | str) -> None:
        try:
            notice = json.loads(payload)
            room_id, origin = str(notice["room"]), notice["from"]
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed fan-out notice %r", payload)
            return
        if origin == self._origin or room_id not in self._cursors:
            return
        if self._sink is not None and "index" not in notice:
            self._sink.forget_room(room_id)
            return
        await self._catch_up(room_id, int(notice["index"]))

    async def _catch_up_all(self) -> None:
        for room_id in list(self._cursors):
            if self._sink is not None:
                self._sink.forget_room(room_id)
            await self._catch_up(room_id, None)

    async def _catch_up(self, room_id: str, last: int | None) -> None:
        try:
            async with self._room_locks[room_id]:
                await self._deliver_until(room_id, last)
        except Exception:
            logger.exception("fan-out: catching up on room %s failed", room_id)

    async def _deliver_until(self, room_id: str, last: int | None) -> None:
        """Deliver the events after the room's cursor up to ``last`` (all when None),
        stopping before one this process is committing (its own pipeline delivers it)."""
        while room_id in self._cursors and (last is None or self._cursors[room_id] < last):
            start = self._cursors[room_id] + 1
            limit = CATCH_UP_BATCH if last is None else min(CATCH_UP_BATCH, last - start + 1)
            events = await self.inner.list_events(room_id, start, limit)
            for event in events:
                if event.id in self._committing or room_id not in self._cursors:
                    return
                self._cursors[room_id] = event.index
                if self._sink is not None:
                    await self._sink.deliver_committed(event)
            if len(events) < limit:
                return

    # the rest of the store, as it is
    async def create_room(self, room: Room) -> Room:
        return await self.inner.create_room(room)

    async def get_room(self, room_id: str) -> Room | None:
        return await self.inner.get_room(room_id)

    async def list_rooms(self, offset: int = 0, limit: int = 50) -> list[Room]:
        return await self.inner.list_rooms(offset, limit)

    async def list_bindings(self, room_id: str) -> list[ChannelBinding]:
        return await self.inner.list_bindings(room_id)

    async def get_event(self, event_id: str) -> RoomEvent | None:
        return await self.inner.get_event(event_id)

    async def list_events(
        self,
        room_id: str,
        offset: int = 0,
        limit: int = 50,
        visibility_filter: str | None = None,
    ) -> list[RoomEvent]:
        return await self.inner.list_events(room_id, offset, limit, visibility_filter)

    async def count_events(self, room_id: str) -> int:
        return await self.inner.count_events(room_id)

    async def mark_read(self, room_id: str, channel_id: str, event_id: str) -> None:
        await self.inner.mark_read(room_id, channel_id, event_id)

    async def mark_all_read(self, room_id: str, channel_id: str) -> None:
        await self.inner.mark_all_read(room_id, channel_id)

    async def get_unread_count(self, room_id: str, channel_id: str) -> int:
        return await self.inner.get_unread_count(room_id, channel_id)

    async def add_task(self, task: Task) -> Task:
        return await self.inner.add_task(task)

    async def update_task(self, task: Task) -> Task:
        return await self.inner.update_task(task)

    async def list_tasks(self, room_id: str, status: TaskStatus | None = None) -> list[Task]:
        return await self.inner.list_tasks(room_id, status)

    async def add_observation(self, observation: Observation) -> Observation:
        return await self.inner.add_observation(observation)

    async def list_observations(self, room_id: str) -> list[Observation]:
        return await self.inner.list_observations(room_id)

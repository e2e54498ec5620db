"""Room events across kits that share PostgreSQL and Redis (FanoutStore), in one process:
every transport gets every other kit's events once, in index order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from tests.redis.conftest import RedisServer
from voicegate import RoomKit, TextContent
from voicegate.core.channels import Channel
from voicegate.core.models import ChannelType, EventStatus, RoomContext, RoomEvent, RoomStatus
from voicegate.redis import RedisLockManager
from voicegate.redis.fanout import FanoutStore
from voicegate.store.postgres import PostgresStore

pytestmark = pytest.mark.redis

DEADLINE_S = 30.0


class Recorder(Channel):
    """A transport that records what it is delivered."""

    channel_type = ChannelType.WEBSOCKET

    def __init__(self, channel_id: str) -> None:
        super().__init__(channel_id)
        self.events: list[RoomEvent] = []
        self.changed = asyncio.Event()

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        self.events.append(event)
        self.changed.set()

    def bodies(self) -> list[str]:
        """The text of each event delivered."""
        return [getattr(event.content, "body", "") for event in self.events]

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(DEADLINE_S):
            while len(self.events) < count:
                self.changed.clear()
                await self.changed.wait()


async def attached(kit: RoomKit, channel_id: str) -> Recorder:
    """A new recorder registered on ``kit`` and attached to room ``r``."""
    recorder = Recorder(channel_id)
    kit.register_channel(recorder)
    await kit.attach_channel("r", channel_id)
    return recorder


async def shared_kit(stack: AsyncExitStack, dsn: str, redis_url: str) -> RoomKit:
    store = FanoutStore(PostgresStore(dsn), redis_url)
    kit = RoomKit(store=store, lock_manager=RedisLockManager(redis_url))
    await stack.enter_async_context(kit)
    await store.start(kit)
    return kit


@pytest.fixture
async def kits(postgres_dsn: str, redis_url: str) -> AsyncIterator[list[RoomKit]]:
    async with AsyncExitStack() as stack:
        yield [await shared_kit(stack, postgres_dsn, redis_url) for _ in range(3)]


async def test_each_transport_gets_the_others_events_once_in_order(kits: list[RoomKit]) -> None:
    await kits[0].create_room("r")
    recorders = [await attached(kit, f"ws-{n}") for n, kit in enumerate(kits)]

    async def send(n: int, count: int) -> None:
        for i in range(count):
            await kits[n].send_event("r", recorders[n].channel_id, TextContent(f"{n}:{i}"))

    per_kit = 40
    await asyncio.gather(*(send(n, per_kit) for n in range(3)))
    total = 3 * per_kit
    timeline = await kits[0].get_timeline("r", limit=total + 1)
    assert [e.index for e in timeline] == list(range(total))
    for recorder in recorders:
        expected = [e.id for e in timeline if e.source.channel_id != recorder.channel_id]
        await recorder.wait_for(len(expected))
        await asyncio.sleep(0.2)  # a duplicate would arrive now
        assert [e.id for e in recorder.events] == expected


async def test_bindings_and_closing_are_seen_by_the_other_kits(kits: list[RoomKit]) -> None:
    first, second, _ = kits
    await first.create_room("r")
    await attached(first, "a")
    await attached(second, "b")
    assert {b.channel_id for b in (await first.store.list_bindings("r"))} == {"a", "b"}

    await first.close_room("r")
    assert await closed_soon(second, "r")


async def closed_soon(kit: RoomKit, room_id: str) -> bool:
    """Whether ``kit`` sees ``room_id`` closed within the deadline."""
    for _ in range(int(DEADLINE_S / 0.01)):
        if (await kit.get_room(room_id)).status is RoomStatus.CLOSED:
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_late_kit_catches_up_on_a_notice(
    kits: list[RoomKit], postgres_dsn: str, redis_url: str
) -> None:
    """Notices are wake-ups: a kit that follows a room reads what it missed from the store."""
    first, second, _ = kits
    await first.create_room("r")
    await attached(first, "sender")
    listener = await attached(second, "listener")
    store = second.store
    assert isinstance(store, FanoutStore)
    # events committed straight into the database: no notice goes out for them
    plain = PostgresStore(postgres_dsn)
    try:
        for i in range(3):
            committed = await first.send_event("r", "sender", TextContent(f"seen {i}"))
            assert committed.index == i
        await listener.wait_for(3)
        missed = RoomEvent("r", committed.source, TextContent("missed"))
        missed.status = EventStatus.DELIVERED
        await plain.add_event(missed)
    finally:
        await plain.close()
    await first.send_event("r", "sender", TextContent("after"))
    await listener.wait_for(5)
    assert [e.index for e in listener.events] == [0, 1, 2, 3, 4]


async def test_after_a_redis_restart_kits_catch_up_and_carry_on(
    postgres_dsn: str, redis_server: RedisServer
) -> None:
    """Events committed while Redis is down (no notice can go out) reach the other kit once
    it has reconnected; sends that wait for a room lock during the outage go through after."""
    async with AsyncExitStack() as stack:
        first, second = [await shared_kit(stack, postgres_dsn, redis_server.url) for _ in "ab"]
        await first.create_room("r")
        await attached(first, "sender")
        listener = await attached(second, "listener")
        await first.send_event("r", "sender", TextContent("before"))
        await listener.wait_for(1)

        redis_server.stop()
        # a writer without Redis: its commits send no notice at all
        async with RoomKit(store=PostgresStore(postgres_dsn)) as quiet:
            await attached(quiet, "quiet")
            for i in range(3):
                await quiet.send_event("r", "quiet", TextContent(f"during {i}"))
        redis_server.start()
        await listener.wait_for(4)  # no notice came: the reconnected kit read the store

        redis_server.stop()
        blocked = asyncio.create_task(first.send_event("r", "sender", TextContent("waiting")))
        await asyncio.sleep(1.0)
        assert not blocked.done(), "the room lock waits for Redis"
        redis_server.start()
        await blocked
        await listener.wait_for(5)
        await first.send_event("r", "sender", TextContent("after"))
        await listener.wait_for(6)
        await asyncio.sleep(0.2)  # a duplicate would arrive now

    timeline = await second_view(postgres_dsn)
    assert [e.index for e in timeline] == list(range(6))
    assert [e.id for e in listener.events] == [e.id for e in timeline]


async def second_view(dsn: str) -> list[RoomEvent]:
    store = PostgresStore(dsn)
    try:
        return await store.list_events("r", limit=100)
    finally:
        await store.close()


async def test_other_kits_deliver_as_the_visibility_allows(kits: list[RoomKit]) -> None:
    await kits[0].create_room("r")
    recorders = [await attached(kit, f"ws-{n}") for n, kit in enumerate(kits)]
    await kits[0].send_event("r", "ws-0", TextContent("for ws-2 only"), visibility="ws-2")
    await kits[0].send_event("r", "ws-0", TextContent("for everyone"))
    await recorders[1].wait_for(1)
    await recorders[2].wait_for(2)
    await asyncio.sleep(0.2)  # anything else would arrive now
    assert recorders[1].bodies() == ["for everyone"]
    assert recorders[2].bodies() == ["for ws-2 only", "for everyone"]

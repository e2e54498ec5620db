"""RedisRealtime against a real redis-server: two backends stand for two processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voicegate.core.realtime import EphemeralEvent, presence_event, typing_event
from voicegate.redis import RedisRealtime
from voicegate.redis.realtime import decode, encode

pytestmark = pytest.mark.redis


@pytest.fixture
async def backends(redis_url: str) -> AsyncIterator[tuple[RedisRealtime, RedisRealtime]]:
    first, second = RedisRealtime(redis_url), RedisRealtime(redis_url)
    yield first, second
    await first.close()
    await second.close()


async def test_events_cross_processes_to_their_room_only(
    backends: tuple[RedisRealtime, RedisRealtime],
) -> None:
    publisher, subscriber = backends
    in_room: list[EphemeralEvent] = []
    elsewhere: list[EphemeralEvent] = []
    done = asyncio.Event()

    async def on_room(event: EphemeralEvent) -> None:
        in_room.append(event)
        if len(in_room) == 2:
            done.set()

    async def on_other(event: EphemeralEvent) -> None:
        elsewhere.append(event)

    await subscriber.subscribe("room-1", on_room)
    await subscriber.subscribe("room-2", on_other)
    sent = [
        typing_event("room-1", "alice", True, {"x": 1}),
        presence_event("room-1", "bob", "away"),
    ]
    for event in sent:
        await publisher.publish(event)
    await asyncio.wait_for(done.wait(), timeout=5)
    assert in_room == sent
    assert elsewhere == []


async def test_a_failing_callback_harms_no_other(
    backends: tuple[RedisRealtime, RedisRealtime],
) -> None:
    publisher, subscriber = backends
    received: list[EphemeralEvent] = []
    arrived = asyncio.Event()

    async def failing(event: EphemeralEvent) -> None:
        raise RuntimeError("subscriber bug")

    async def working(event: EphemeralEvent) -> None:
        received.append(event)
        arrived.set()

    await subscriber.subscribe("room-f", failing)
    await subscriber.subscribe("room-f", working)
    event = typing_event("room-f", "carol", False)
    await publisher.publish(event)
    await asyncio.wait_for(arrived.wait(), timeout=5)
    assert received == [event]


async def test_unsubscribe_returns_true_once_then_false(
    backends: tuple[RedisRealtime, RedisRealtime], redis_url: str
) -> None:
    _, subscriber = backends

    async def ignore(event: EphemeralEvent) -> None:
        del event

    subscription = await subscriber.subscribe("room-u", ignore)
    assert await subscriber.unsubscribe(subscription) is True
    assert await subscriber.unsubscribe(subscription) is False
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(redis_url)
    assert await client.pubsub_numsub("voicegate:realtime:room-u") == [
        (b"voicegate:realtime:room-u", 0)
    ]
    await client.aclose()


def test_encoding_round_trips() -> None:
    event = presence_event("r", "u", "online")
    assert decode(encode(event)) == event

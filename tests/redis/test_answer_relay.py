"""RedisAnswerRelay on a real Redis: three kits stand for three processes; one streams an
answer, another cancels it (the test on real `voicegate serve` processes is in
tests/postgres/test_serve_cross_process.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.core.test_answers import Receiver, Streamer, body, room_with
from voicegate import InMemoryStore, RoomKit, TextContent
from voicegate.redis.answers import RedisAnswerRelay


@pytest.fixture
async def kits(redis_url: str) -> AsyncIterator[list[RoomKit]]:
    """Three kits, each with its relay on one (test-private) Redis channel."""
    channel = f"test-answers-{uuid.uuid4().hex}"
    kits = [RoomKit(store=InMemoryStore()) for _ in range(3)]
    relays = [RedisAnswerRelay(redis_url, channel=channel) for _ in kits]
    for kit, relay in zip(kits, relays, strict=True):
        await relay.start(kit)
    yield kits
    for kit, relay in zip(kits, relays, strict=True):
        await relay.close()
        await kit.close()


async def test_a_kit_cancels_an_answer_streaming_in_another(kits: list[RoomKit]) -> None:
    streaming, asking, _ = kits
    caller, streamer = Receiver("caller"), Streamer()
    room_id = await room_with(streaming, caller, streamer)
    await streaming.send_event(room_id, "caller", TextContent("tell me"))
    streamer.parts.put_nowait("First.")
    [first] = await caller.answers(1)
    assert first.response_id is not None

    assert await asking.cancel_response(first.response_id) is True
    assert streamer.closed == ["tell me"]  # stopped before the cancel returned
    streamer.parts.put_nowait("Never sent.")
    await streaming.wait_answers(room_id)
    await streaming.wait_delivered(room_id)
    assert [body(e) for e in caller.delivered] == ["First."]
    # stopped everywhere now: every other kit says so, and the cancel returns False
    assert await asking.cancel_response(first.response_id) is False


async def test_an_answer_streaming_nowhere_is_not_cancelled(kits: list[RoomKit]) -> None:
    assert await kits[0].cancel_response("no-such-response") is False


async def test_without_its_relay_a_kit_cancels_its_own_answers_only(kits: list[RoomKit]) -> None:
    streaming, asking, _ = kits
    caller, streamer = Receiver("caller"), Streamer()
    room_id = await room_with(streaming, caller, streamer)
    await streaming.send_event(room_id, "caller", TextContent("tell me"))
    streamer.parts.put_nowait("First.")
    [first] = await caller.answers(1)
    assert first.response_id is not None
    asking.relay_answers(None)
    assert await asking.cancel_response(first.response_id) is False
    assert streamer.closed == []
    assert await streaming.cancel_response(first.response_id) is True

"""send_event through the real kit: errors, delivery, visibility, chain depth."""

from __future__ import annotations

import pytest

from tests.core.conftest import EchoAI, RecordingChannel
from voicegate import (
    ChannelNotFoundError,
    ChannelNotRegisteredError,
    EventStatus,
    FrameworkEvent,
    RoomClosedError,
    RoomContext,
    RoomEvent,
    RoomKit,
    RoomNotFoundError,
    TextContent,
    Visibility,
)


async def room_with(kit: RoomKit, *channels: RecordingChannel | EchoAI) -> str:
    room = await kit.create_room()
    for channel in channels:
        kit.register_channel(channel)
        await kit.attach_channel(room.id, channel.channel_id)
    return room.id


async def test_unknown_room_raises_room_not_found(kit: RoomKit) -> None:
    kit.register_channel(RecordingChannel("sms"))
    with pytest.raises(RoomNotFoundError):
        await kit.send_event("nope", "sms", TextContent(body="hi"))


async def test_unregistered_channel_raises(kit: RoomKit) -> None:
    room = await kit.create_room()
    with pytest.raises(ChannelNotRegisteredError):
        await kit.send_event(room.id, "ghost", TextContent(body="hi"))


async def test_registered_but_unattached_channel_raises(kit: RoomKit) -> None:
    room = await kit.create_room()
    kit.register_channel(RecordingChannel("sms"))
    with pytest.raises(ChannelNotFoundError):
        await kit.send_event(room.id, "sms", TextContent(body="hi"))


async def test_closed_room_refuses_events(kit: RoomKit) -> None:
    room_id = await room_with(kit, RecordingChannel("a"))
    await kit.close_room(room_id)
    with pytest.raises(RoomClosedError):
        await kit.send_event(room_id, "a", TextContent(body="hi"))


async def test_returns_committed_event_with_gap_free_index(kit: RoomKit) -> None:
    room_id = await room_with(kit, RecordingChannel("a"))
    events = [await kit.send_event(room_id, "a", TextContent(body=str(i))) for i in range(3)]
    assert [e.index for e in events] == [0, 1, 2]
    assert all(e.status is EventStatus.DELIVERED for e in events)
    timeline = await kit.get_timeline(room_id)
    assert [e.id for e in timeline] == [e.id for e in events]


async def test_delivery_to_others_never_back_to_source(kit: RoomKit) -> None:
    a, b, c = RecordingChannel("a"), RecordingChannel("b"), RecordingChannel("c")
    room_id = await room_with(kit, a, b, c)
    event = await kit.send_event(room_id, "a", TextContent(body="hi"), participant_id="u1")
    await kit.wait_delivered(room_id)
    assert a.delivered == []
    assert [e.id for e in b.delivered] == [event.id] == [e.id for e in c.delivered]
    assert b.delivered[0].source.participant_id == "u1"


async def test_internal_is_never_delivered_but_stored(kit: RoomKit) -> None:
    a, b = RecordingChannel("a"), RecordingChannel("b")
    room_id = await room_with(kit, a, b)
    await kit.send_event(room_id, "a", TextContent(body="x"), visibility=Visibility.INTERNAL)
    await kit.wait_delivered(room_id)
    assert b.delivered == []
    stored = await kit.get_timeline(room_id, visibility_filter="internal")
    assert len(stored) == 1


async def test_visibility_by_channel_id_and_category(kit: RoomKit) -> None:
    a, b, c, ai = RecordingChannel("a"), RecordingChannel("b"), RecordingChannel("c"), EchoAI("ai")
    room_id = await room_with(kit, a, b, c, ai)
    await kit.send_event(room_id, "a", TextContent(body="1"), visibility="c")
    await kit.send_event(room_id, "a", TextContent(body="2"), visibility="b, c")
    await kit.send_event(room_id, "a", TextContent(body="3"), visibility=Visibility.TRANSPORT)
    await kit.send_event(room_id, "a", TextContent(body="4"), visibility=Visibility.INTELLIGENCE)
    await kit.wait_delivered(room_id)
    assert [e.content.body for e in b.delivered if e.source.channel_id == "a"] == ["2", "3"]
    assert [e.content.body for e in c.delivered if e.source.channel_id == "a"] == ["1", "2", "3"]
    assert [e.content.body for e in ai.seen] == ["4"]


async def test_failing_channel_does_not_stop_others(kit: RoomKit) -> None:
    class Broken(RecordingChannel):
        async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
            raise RuntimeError("down")

    b = RecordingChannel("b")
    room_id = await room_with(kit, RecordingChannel("a"), Broken("x"), b)
    await kit.send_event(room_id, "a", TextContent(body="hi"))
    await kit.wait_delivered(room_id)
    assert len(b.delivered) == 1


async def test_ai_answer_uses_response_visibility(kit: RoomKit) -> None:
    a, b, ai = RecordingChannel("a"), RecordingChannel("b"), EchoAI("ai")
    room_id = await room_with(kit, a, b, ai)
    await kit.send_event(room_id, "a", TextContent(body="q"), response_visibility="a")
    await kit.wait_delivered(room_id)
    answers = [e for e in a.delivered if e.source.channel_id == "ai"]
    assert [e.content.body for e in answers] == ["ai: q"]
    assert answers[0].chain_depth == 1
    assert answers[0].visibility == "a"
    assert [e for e in b.delivered if e.source.channel_id == "ai"] == []


async def test_two_answering_channels_stop_at_chain_depth(kit: RoomKit) -> None:
    seen: list[FrameworkEvent] = []

    @kit.on("chain_depth_exceeded")
    async def record(event: FrameworkEvent) -> None:
        seen.append(event)

    a, x, y = RecordingChannel("a"), EchoAI("x"), EchoAI("y")
    room_id = await room_with(kit, a, x, y)
    await kit.send_event(room_id, "a", TextContent(body="ping"))
    await kit.wait_delivered(room_id)
    timeline = await kit.get_timeline(room_id, limit=1000)
    blocked = [e for e in timeline if e.status is EventStatus.BLOCKED]
    assert blocked
    assert all(e.blocked_by == "event_chain_depth_limit" and e.chain_depth == 5 for e in blocked)
    assert max(e.chain_depth for e in timeline) == 5
    assert all(e.chain_depth < 5 for e in a.delivered)
    assert len(seen) == len(blocked)
    observations = await kit.list_observations(room_id)
    assert [o.kind for o in observations] == ["chain_depth_exceeded"] * len(blocked)

"""Deliveries outside the room lock: in order per member, a slow member delays nobody, and
one that falls too far behind is dropped from the room."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from tests.core.conftest import EchoAI, RecordingChannel
from voicegate import Channel, FrameworkEvent, RoomContext, RoomEvent, RoomKit, TextContent
from voicegate.core.delivery import MAX_PENDING

HANG_GUARD_S = 30.0
"""How long a step may take before the test calls it a hang (not a timing)."""


_changed: list[asyncio.Condition] = []


@pytest.fixture(autouse=True)
def changed() -> None:
    """What members notify when they take something (one per test: one per event loop)."""
    _changed[:] = [asyncio.Condition()]


class Member(RecordingChannel):
    """A member that tells :func:`until` whenever it takes something."""

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        await super().deliver(event, context)
        await notify()


async def notify() -> None:
    async with _changed[0]:
        _changed[0].notify_all()


async def until(condition: Callable[[], bool]) -> None:
    """Return once ``condition()`` holds (the caller bounds the wait)."""
    async with _changed[0]:
        await _changed[0].wait_for(condition)


class Stuck(RecordingChannel):
    """A member that stopped taking events: ``deliver`` never returns until released."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(channel_id)
        self.release = asyncio.Event()
        self.dropped_from: list[str] = []

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        await self.release.wait()
        await super().deliver(event, context)

    async def on_dropped(self, room_id: str) -> None:
        self.dropped_from.append(room_id)
        await notify()


class Jittery(RecordingChannel):
    """Takes each event after a random short pause: deliveries overlap with new commits."""

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        await asyncio.sleep(random.random() / 1000)
        await super().deliver(event, context)


class Caller(RecordingChannel):
    """Logs its own commits and what it is delivered, in the order it learns of them."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(channel_id)
        self.log: list[str] = []

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        await asyncio.sleep(0.001)  # a little slow: its queue holds something
        self.log.append(f"delivered {body(event)}")
        await super().deliver(event, context)

    async def on_committed(self, event: RoomEvent, context: RoomContext) -> None:
        self.log.append(f"committed {body(event)}")


def body(event: RoomEvent) -> str:
    assert isinstance(event.content, TextContent)
    return event.content.body


async def room_with(kit: RoomKit, *channels: Channel) -> str:
    room = await kit.create_room()
    for channel in channels:
        kit.register_channel(channel)
        await kit.attach_channel(room.id, channel.channel_id)
    return room.id


async def test_a_member_that_stopped_reading_delays_nobody(kit: RoomKit) -> None:
    stuck, other, caller = Stuck("stuck"), Member("other"), Member("caller")
    room_id = await room_with(kit, caller, stuck, other, EchoAI("ai"))
    async with asyncio.timeout(HANG_GUARD_S):
        for turn in range(3):
            await kit.send_event(room_id, "caller", TextContent(f"turn {turn}"))
        await until(lambda: len(caller.delivered) == 3 and len(other.delivered) == 6)
    assert [body(e) for e in caller.delivered] == ["ai: turn 0", "ai: turn 1", "ai: turn 2"]
    assert stuck.delivered == []
    stuck.release.set()
    await kit.wait_delivered(room_id)
    assert [e.index for e in stuck.delivered] == list(range(6))


async def test_each_member_gets_a_room_s_events_in_commit_order(kit: RoomKit) -> None:
    members = [Jittery(f"m{n}") for n in range(3)]
    room_id = await room_with(kit, *members)

    async def talk(member: Channel, count: int) -> None:
        for n in range(count):
            await kit.send_event(room_id, member.channel_id, TextContent(f"{n}"))
            await asyncio.sleep(random.random() / 2000)

    await asyncio.gather(*(talk(member, 40) for member in members))
    await kit.wait_delivered(room_id)
    for member in members:
        indexes = [e.index for e in member.delivered]
        assert indexes == sorted(indexes)
        assert len(indexes) == 80  # the other two members' events


async def test_the_source_hears_its_commit_in_order_and_before_the_answer(kit: RoomKit) -> None:
    caller, other = Caller("caller"), RecordingChannel("other")
    room_id = await room_with(kit, caller, other, EchoAI("ai"))
    for n in range(5):
        await kit.send_event(room_id, "other", TextContent(f"chat {n}"))
    await kit.send_event(room_id, "caller", TextContent("question"))
    await kit.wait_delivered(room_id)
    chat = [line for n in range(5) for line in (f"delivered chat {n}", f"delivered ai: chat {n}")]
    assert caller.log[:10] == chat
    assert caller.log[-2:] == ["committed question", "delivered ai: question"]


async def test_a_member_that_falls_too_far_behind_is_dropped_from_the_room(kit: RoomKit) -> None:
    dropped: list[FrameworkEvent] = []

    @kit.on("channel_dropped")
    async def record(event: FrameworkEvent) -> None:
        dropped.append(event)

    stuck, other = Stuck("stuck"), RecordingChannel("other")
    room_id = await room_with(kit, RecordingChannel("source"), stuck, other)
    async with asyncio.timeout(HANG_GUARD_S):
        for n in range(MAX_PENDING + 10):
            await kit.send_event(room_id, "source", TextContent(f"{n}"))
        await until(lambda: bool(stuck.dropped_from))
        await kit.wait_delivered(room_id)
    assert stuck.dropped_from == [room_id]
    assert [(e.room_id, e.channel_id, e.data) for e in dropped] == [
        (room_id, "stuck", {"reason": "too_slow"})
    ]
    bound = {binding.channel_id for binding in await kit.store.list_bindings(room_id)}
    assert bound == {"source", "other"}
    assert len(other.delivered) == MAX_PENDING + 10, "the others got everything"
    stuck.release.set()  # the event it was stuck on ends; nothing queued follows it
    await kit.send_event(room_id, "source", TextContent("after"))
    await kit.wait_delivered(room_id)
    assert len(stuck.delivered) <= 1


async def test_closing_the_kit_delivers_what_is_queued() -> None:
    kit = RoomKit()
    member = Jittery("member")
    room_id = await room_with(kit, RecordingChannel("source"), member)
    for n in range(20):
        await kit.send_event(room_id, "source", TextContent(f"{n}"))
    await kit.close()
    assert [e.index for e in member.delivered] == list(range(20))

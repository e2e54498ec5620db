"""Hooks through the real kit, and the hook engine's own rules."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.core.conftest import RecordingChannel
from voicegate import (
    ChannelDirection,
    ChannelType,
    EventStatus,
    FrameworkEvent,
    HookExecution,
    HookResult,
    HookTrigger,
    RoomEvent,
    RoomKit,
    TextContent,
)
from voicegate.core.framework import FrameworkEmitter
from voicegate.core.hooks import HookEngine, HookFilter, HookOrigin, HookRegistration


async def setup(kit: RoomKit) -> tuple[str, RecordingChannel]:
    room = await kit.create_room()
    b = RecordingChannel("b")
    kit.register_channel(RecordingChannel("a"))
    kit.register_channel(b)
    await kit.attach_channel(room.id, "a")
    await kit.attach_channel(room.id, "b")
    return room.id, b


async def test_sync_hooks_run_in_priority_order(kit: RoomKit) -> None:
    order: list[str] = []

    @kit.hook(HookTrigger.BEFORE_BROADCAST, priority=5)
    async def late(event: RoomEvent, ctx: Any) -> HookResult:
        order.append("late")
        return HookResult.allow()

    @kit.hook(HookTrigger.BEFORE_BROADCAST, priority=-1)
    async def early(event: RoomEvent, ctx: Any) -> None:
        order.append("early")

    room_id, _ = await setup(kit)
    await kit.send_event(room_id, "a", TextContent(body="hi"))
    assert order == ["early", "late"]


async def test_block_stores_blocked_delivers_nothing_emits(kit: RoomKit) -> None:
    blocked: list[FrameworkEvent] = []
    kit.on("event_blocked")(_appender(blocked))

    @kit.hook(HookTrigger.BEFORE_BROADCAST, name="profanity")
    async def stop(event: RoomEvent, ctx: Any) -> HookResult:
        return HookResult.block("rude")

    room_id, b = await setup(kit)
    event = await kit.send_event(room_id, "a", TextContent(body="hi"))
    assert event.status is EventStatus.BLOCKED
    assert event.blocked_by == "profanity"
    await kit.wait_delivered()
    assert b.delivered == []
    assert (await kit.get_timeline(room_id))[0].status is EventStatus.BLOCKED
    assert blocked[0].data == {"blocked_by": "profanity", "reason": "rude"}


async def test_modify_is_stored_and_delivered_after_broadcast_sees_commit(kit: RoomKit) -> None:
    after: list[RoomEvent] = []

    @kit.hook(HookTrigger.BEFORE_BROADCAST)
    async def shout(event: RoomEvent, ctx: Any) -> HookResult:
        assert isinstance(event.content, TextContent)
        return HookResult.modify(event.copy(content=TextContent(body=event.content.body.upper())))

    @kit.hook(HookTrigger.AFTER_BROADCAST)
    async def watch(event: RoomEvent, ctx: Any) -> None:
        after.append(event)

    room_id, b = await setup(kit)
    event = await kit.send_event(room_id, "a", TextContent(body="hi"))
    await kit.wait_delivered(room_id)
    assert event.content == TextContent(body="HI")
    assert b.delivered[0].content == TextContent(body="HI")
    assert after[0].id == event.id
    assert after[0].status is EventStatus.DELIVERED


async def test_timed_out_hook_is_reported_and_allows(kit: RoomKit) -> None:
    errors: list[FrameworkEvent] = []
    kit.on("hook_error")(_appender(errors))

    @kit.hook(HookTrigger.BEFORE_BROADCAST, timeout=0.01, name="slow")
    async def slow(event: RoomEvent, ctx: Any) -> None:
        await asyncio.sleep(10)

    room_id, b = await setup(kit)
    event = await kit.send_event(room_id, "a", TextContent(body="hi"))
    await kit.wait_delivered(room_id)
    assert event.status is EventStatus.DELIVERED
    assert len(b.delivered) == 1
    assert errors[0].data["hook"] == "slow"
    assert errors[0].data["error"] == "timed out"


async def test_filters_channel_types_ids_directions(kit: RoomKit) -> None:
    ran: list[str] = []
    for label, kwargs in {
        "sms": {"channel_types": {ChannelType.SMS}},
        "email": {"channel_types": {ChannelType.EMAIL}},
        "id-a": {"channel_ids": {"a"}},
        "id-b": {"channel_ids": {"b"}},
        "bidi": {"directions": {ChannelDirection.BIDIRECTIONAL}},
        "inbound": {"directions": {ChannelDirection.INBOUND}},
    }.items():
        kit.hook(HookTrigger.BEFORE_BROADCAST, name=label, **kwargs)(_marker(ran, label))
    room_id, _ = await setup(kit)
    await kit.send_event(room_id, "a", TextContent(body="hi"))
    assert sorted(ran) == ["bidi", "id-a", "sms"]


async def test_room_hooks_run_beside_global_and_can_be_removed(kit: RoomKit) -> None:
    ran: list[str] = []
    kit.hook(HookTrigger.BEFORE_BROADCAST, priority=1)(_marker(ran, "global"))
    room_id, _ = await setup(kit)
    other_id, _ = await setup_other(kit)
    kit.add_room_hook(
        room_id,
        HookTrigger.BEFORE_BROADCAST,
        HookExecution.SYNC,
        _marker(ran, "room"),
        priority=0,
        name="mine",
    )
    await kit.send_event(room_id, "a", TextContent(body="hi"))
    await kit.send_event(other_id, "a", TextContent(body="hi"))
    assert ran == ["room", "global", "global"]
    assert kit.remove_room_hook(room_id, "mine") is True
    assert kit.remove_room_hook(room_id, "mine") is False


async def test_async_hooks_fire_and_failures_stay_contained(kit: RoomKit) -> None:
    seen = asyncio.Event()

    @kit.hook(HookTrigger.AFTER_BROADCAST, execution=HookExecution.ASYNC)
    async def boom(event: RoomEvent, ctx: Any) -> None:
        raise RuntimeError("async hook failure")

    @kit.hook(HookTrigger.AFTER_BROADCAST, execution=HookExecution.ASYNC)
    async def note(event: RoomEvent, ctx: Any) -> None:
        seen.set()

    room_id, b = await setup(kit)
    await kit.send_event(room_id, "a", TextContent(body="hi"))
    await asyncio.wait_for(seen.wait(), 5)
    await kit.wait_delivered()
    assert len(b.delivered) == 1


def test_sync_function_is_refused() -> None:
    def not_async(event: Any, ctx: Any) -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        HookRegistration(HookTrigger.BEFORE_BROADCAST, not_async)  # type: ignore[arg-type]


async def test_engine_fail_closed_blocks_on_error_and_passes_any_payload() -> None:
    engine = HookEngine(FrameworkEmitter())
    failures: list[Any] = []

    async def broken(payload: str, ctx: Any) -> HookResult:
        raise ValueError("bad")

    async def upper(payload: str, ctx: Any) -> HookResult:
        return HookResult.modify(payload.upper())

    async def on_error(failure: Any, ctx: Any) -> None:
        failures.append(failure)

    engine.register(HookRegistration(HookTrigger.BEFORE_TTS, upper, priority=0, name="upper"))
    engine.register(HookRegistration(HookTrigger.BEFORE_TTS, broken, priority=1, name="broken"))
    engine.register(HookRegistration(HookTrigger.ON_ERROR, on_error))
    open_outcome = await engine.run_sync(HookTrigger.BEFORE_TTS, "hello", None)
    assert (open_outcome.payload, open_outcome.blocked) == ("HELLO", False)
    closed = await engine.run_sync(HookTrigger.BEFORE_TTS, "hello", None, fail_closed=True)
    assert (closed.blocked, closed.blocked_by, closed.reason) == (True, "broken", "hook_error")
    assert [f.hook_name for f in failures] == ["broken", "broken"]


async def test_engine_filtered_hook_needs_an_origin() -> None:
    engine = HookEngine(FrameworkEmitter())
    ran: list[str] = []
    engine.register(
        HookRegistration(
            HookTrigger.ON_TRANSCRIPTION,
            _marker(ran, "voice"),
            filter=HookFilter.of(channel_types={ChannelType.VOICE}),
        )
    )
    await engine.run_sync(HookTrigger.ON_TRANSCRIPTION, "text", None)
    origin = HookOrigin("v", ChannelType.VOICE, ChannelDirection.BIDIRECTIONAL)
    await engine.run_sync(HookTrigger.ON_TRANSCRIPTION, "text", None, origin=origin)
    assert ran == ["voice"]


async def setup_other(kit: RoomKit) -> tuple[str, None]:
    room = await kit.create_room()
    await kit.attach_channel(room.id, "a")
    return room.id, None


def _marker(ran: list[str], label: str) -> Any:
    async def mark(payload: Any, ctx: Any) -> None:
        ran.append(label)

    mark.__name__ = label
    return mark


def _appender(sink: list[FrameworkEvent]) -> Any:
    async def append(event: FrameworkEvent) -> None:
        sink.append(event)

    return append

"""process_inbound: routing, rate limit, identity, process_timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.core.conftest import RecordingChannel
from voicegate import (
    ChannelType,
    FrameworkEvent,
    HookResult,
    HookTrigger,
    IdentificationStatus,
    IdentityHookResult,
    IdentityResolver,
    IdentityResult,
    InboundMessage,
    InMemoryLockManager,
    RateLimit,
    RoomContext,
    RoomEvent,
    RoomKit,
    TextContent,
)


class Directory(IdentityResolver):
    """Knows +1 as alice, finds two people behind +2, nobody else; +slow never answers."""

    def __init__(self) -> None:
        self.calls = 0

    async def resolve(self, message: InboundMessage, context: RoomContext) -> IdentityResult:
        self.calls += 1
        if message.sender_id == "+slow":
            await asyncio.sleep(10)
        if message.sender_id == "+1":
            return IdentityResult(IdentificationStatus.IDENTIFIED, participant_id="alice")
        if message.sender_id == "+2":
            return IdentityResult(IdentificationStatus.AMBIGUOUS, candidates=["bob", "carol"])
        return IdentityResult(IdentificationStatus.UNKNOWN)


def message(sender: str = "+1", channel_id: str = "sms") -> InboundMessage:
    return InboundMessage(channel_id=channel_id, sender_id=sender, content=TextContent(body="hi"))


async def test_routes_to_attached_room_or_opens_one() -> None:
    async with RoomKit() as kit:
        kit.register_channel(RecordingChannel("sms"))
        first = await kit.process_inbound(message())
        assert first.event is not None
        assert not first.blocked
        second = await kit.process_inbound(message())
        assert second.event is not None
        assert second.event.room_id == first.event.room_id
        assert second.event.index == 1
        assert second.event.source.participant_id == "+1"


async def test_rate_limited_stores_nothing() -> None:
    async with RoomKit(inbound_rate_limit=RateLimit(max_per_minute=2)) as kit:
        kit.register_channel(RecordingChannel("sms"))
        room = await kit.create_room()
        await kit.attach_channel(room.id, "sms")
        results = [await kit.process_inbound(message(), room.id) for _ in range(3)]
        assert [r.blocked for r in results] == [False, False, True]
        assert results[2].reason == "rate_limited"
        assert results[2].event is None
        assert len(await kit.get_timeline(room.id)) == 2


async def test_identity_resolves_and_hooks_decide() -> None:
    directory = Directory()
    async with RoomKit(identity_resolver=directory) as kit:
        kit.register_channel(RecordingChannel("sms"))

        @kit.identity_hook(HookTrigger.ON_IDENTITY_AMBIGUOUS)
        async def pick(event: RoomEvent, ctx: RoomContext, result: IdentityResult) -> Any:
            return IdentityHookResult.resolved(result.candidates[0])

        @kit.identity_hook(HookTrigger.ON_IDENTITY_UNKNOWN, channel_types={ChannelType.SMS})
        async def refuse(event: RoomEvent, ctx: RoomContext, result: IdentityResult) -> Any:
            return IdentityHookResult.reject("who are you")

        known = await kit.process_inbound(message("+1"))
        ambiguous = await kit.process_inbound(message("+2"))
        unknown = await kit.process_inbound(message("+9"))
        assert known.event is not None
        assert known.event.source.participant_id == "alice"
        assert ambiguous.event is not None
        assert ambiguous.event.source.participant_id == "bob"
        assert (unknown.blocked, unknown.reason, unknown.event) == (True, "who are you", None)


async def test_identity_timeout_means_unknown_and_is_emitted() -> None:
    timeouts: list[FrameworkEvent] = []
    async with RoomKit(identity_resolver=Directory(), identity_timeout=0.05) as kit:
        kit.on("identity_timeout")(_appender(timeouts))
        kit.register_channel(RecordingChannel("sms"))
        result = await kit.process_inbound(message("+slow"))
        assert result.event is not None
        assert result.event.source.participant_id is None
        assert result.event.metadata["sender_id"] == "+slow"
        assert timeouts[0].data["sender_id"] == "+slow"


async def test_identity_only_for_listed_channel_types() -> None:
    directory = Directory()
    async with RoomKit(
        identity_resolver=directory, identity_channel_types={ChannelType.EMAIL}
    ) as kit:
        kit.register_channel(RecordingChannel("sms"))
        result = await kit.process_inbound(message("+1"))
        assert directory.calls == 0
        assert result.event is not None
        assert result.event.source.participant_id == "+1"


async def test_process_timeout_bounds_lock_wait() -> None:
    locks = InMemoryLockManager()
    async with RoomKit(process_timeout=0.05, lock_manager=locks) as kit:
        kit.register_channel(RecordingChannel("sms"))
        room = await kit.create_room()
        await kit.attach_channel(room.id, "sms")
        release = asyncio.Event()
        holding = asyncio.Event()

        async def hold_room() -> None:
            async with locks.locked(room.id):
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold_room())
        await holding.wait()
        result = await kit.process_inbound(message(), room.id)
        release.set()
        await holder
        assert (result.blocked, result.reason) == (True, "process_timeout")
        assert await kit.get_timeline(room.id) == []


async def test_process_timeout_bounds_slow_hooks() -> None:
    async with RoomKit(process_timeout=0.05) as kit:
        kit.register_channel(RecordingChannel("sms"))

        @kit.hook(HookTrigger.BEFORE_BROADCAST)
        async def slow(event: RoomEvent, ctx: Any) -> HookResult:
            await asyncio.sleep(1)
            return HookResult.allow()

        result = await kit.process_inbound(message())
        assert (result.blocked, result.reason) == (True, "process_timeout")


def _appender(sink: list[FrameworkEvent]) -> Any:
    async def append(event: FrameworkEvent) -> None:
        sink.append(event)

    return append

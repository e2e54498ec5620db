"""How the engine commits answers: the source hears its commit first; answers in parts
stream, carry one response id, and stop when cancelled or when their room goes away."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from tests.core.conftest import EchoAI, RecordingChannel
from voicegate import (
    Channel,
    ChannelCategory,
    ChannelOutput,
    ChannelType,
    EventStatus,
    HookResult,
    HookTrigger,
    RoomContext,
    RoomEvent,
    RoomKit,
    TextContent,
)
from voicegate.core.models import RECENT_EVENTS


class Receiver(RecordingChannel):
    """A transport whose test can wait for deliveries."""

    def __init__(self, channel_id: str) -> None:
        super().__init__(channel_id)
        self.arrived = asyncio.Event()

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        await super().deliver(event, context)
        self.arrived.set()

    async def answers(self, count: int) -> list[RoomEvent]:
        """The first ``count`` answer parts delivered (waiting for them)."""
        while len(parts := [e for e in self.delivered if e.response_id]) < count:
            self.arrived.clear()
            await self.arrived.wait()
        return parts[:count]


class Caller(Receiver):
    """A transport that logs what the engine tells it, in order, into a shared log."""

    def __init__(self, channel_id: str, log: list[tuple[str, str]]) -> None:
        super().__init__(channel_id)
        self.log = log

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        self.log.append(("delivered", body(event)))
        await super().deliver(event, context)

    async def on_committed(self, event: RoomEvent, context: RoomContext) -> None:
        self.log.append(("committed", body(event)))


class Streamer(Channel):
    """Answers each text event with the parts the test puts in ``parts`` (None ends)."""

    channel_type = ChannelType.AI
    category = ChannelCategory.INTELLIGENCE

    def __init__(self, channel_id: str = "streamer", *, cancel_previous: bool = False) -> None:
        super().__init__(channel_id)
        self.cancel_previous_answer = cancel_previous
        self.parts: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed: list[str] = []
        self.contexts: list[RoomContext] = []

    async def on_event(
        self, event: RoomEvent, context: RoomContext
    ) -> AsyncIterator[ChannelOutput]:
        self.contexts.append(context)
        return self._answer(body(event))

    async def _answer(self, asked: str) -> AsyncIterator[ChannelOutput]:
        try:
            while (part := await self.parts.get()) is not None:
                yield ChannelOutput(TextContent(part), metadata={"asked": asked})
        finally:
            self.closed.append(asked)


def body(event: RoomEvent) -> str:
    assert isinstance(event.content, TextContent)
    return event.content.body


async def room_with(kit: RoomKit, *channels: Channel) -> str:
    room = await kit.create_room()
    for channel in channels:
        kit.register_channel(channel)
        await kit.attach_channel(room.id, channel.channel_id)
    return room.id


async def test_the_source_hears_its_commit_before_answers(kit: RoomKit) -> None:
    log: list[tuple[str, str]] = []
    room_id = await room_with(kit, Caller("caller", log), EchoAI("ai"))

    @kit.hook(HookTrigger.AFTER_BROADCAST, priority=-1000, name="first-hook")
    async def after(event: RoomEvent, context: RoomContext) -> None:
        log.append(("after_broadcast", body(event)))

    question = await kit.send_event(room_id, "caller", TextContent("hi"))
    await kit.wait_delivered(room_id)

    # AFTER_BROADCAST runs in the locked phase, once the event is committed and queued
    # for the room's channels; the source takes its notice after it, before any answer
    assert log == [
        ("after_broadcast", "hi"),
        ("committed", "hi"),
        ("after_broadcast", "ai: hi"),
        ("delivered", "ai: hi"),
    ]
    [answer] = [e for e in await kit.get_timeline(room_id) if e.source.channel_id == "ai"]
    assert answer.response_id is not None
    assert answer.metadata == {"responds_to": question.id, "part": 0}


async def test_the_source_hears_its_commit_before_the_first_streamed_part(kit: RoomKit) -> None:
    log: list[tuple[str, str]] = []
    caller, streamer = Caller("caller", log), Streamer()
    room_id = await room_with(kit, caller, streamer)
    streamer.parts.put_nowait("part one")
    await kit.send_event(room_id, "caller", TextContent("hi"))
    await caller.answers(1)
    assert log[:2] == [("committed", "hi"), ("delivered", "part one")]


async def test_blocked_events_are_not_reported_and_a_failing_report_stops_nothing(
    kit: RoomKit,
) -> None:
    class Failing(RecordingChannel):
        async def on_committed(self, event: RoomEvent, context: RoomContext) -> None:
            raise RuntimeError("broken")

    log: list[tuple[str, str]] = []
    caller, failing, other = Caller("caller", log), Failing("failing"), RecordingChannel("other")
    room_id = await room_with(kit, caller, failing, other, EchoAI("ai"))

    @kit.hook(HookTrigger.BEFORE_BROADCAST, name="no-secrets")
    async def no_secrets(event: RoomEvent, context: RoomContext) -> HookResult:
        return HookResult.block("secret") if "secret" in body(event) else HookResult.allow()

    blocked = await kit.send_event(room_id, "caller", TextContent("a secret"))
    await kit.wait_delivered(room_id)
    assert blocked.status is EventStatus.BLOCKED
    assert log == []

    await kit.send_event(room_id, "failing", TextContent("hello"))
    await kit.wait_delivered(room_id)
    assert [body(e) for e in other.delivered] == ["hello", "ai: hello"]


async def test_parts_are_committed_as_they_come_with_one_response_id(kit: RoomKit) -> None:
    caller, streamer = Receiver("caller"), Streamer()
    room_id = await room_with(kit, caller, streamer)
    question = await kit.send_event(
        room_id, "caller", TextContent("tell me"), response_visibility="caller", chain_depth=2
    )
    streamer.parts.put_nowait("First.")
    [first] = await caller.answers(1)
    assert body(first) == "First."
    streamer.parts.put_nowait("Second.")
    streamer.parts.put_nowait(None)
    await kit.wait_answers(room_id)

    parts = [e for e in await kit.get_timeline(room_id) if e.source.channel_id == "streamer"]
    assert [body(e) for e in parts] == ["First.", "Second."]
    assert {e.response_id for e in parts} == {first.response_id}
    assert [e.metadata for e in parts] == [
        {"asked": "tell me", "responds_to": question.id, "part": 0},
        {"asked": "tell me", "responds_to": question.id, "part": 1},
    ]
    assert all(e.chain_depth == 3 and e.visibility == "caller" for e in parts)
    assert streamer.closed == ["tell me"]


async def test_cancelling_stops_the_answer_between_parts(kit: RoomKit) -> None:
    caller, streamer = Receiver("caller"), Streamer()
    room_id = await room_with(kit, caller, streamer)
    await kit.send_event(room_id, "caller", TextContent("tell me"))
    streamer.parts.put_nowait("First.")
    [first] = await caller.answers(1)
    assert first.response_id is not None

    assert await kit.cancel_response(first.response_id) is True
    assert streamer.closed == ["tell me"]  # the stream was closed before cancel returned
    streamer.parts.put_nowait("Never sent.")
    await kit.wait_answers(room_id)
    await kit.wait_delivered(room_id)
    assert [body(e) for e in caller.delivered] == ["First."]
    assert await kit.cancel_response(first.response_id) is False


async def test_cancelling_during_a_commit_finishes_that_part_and_sends_no_more(
    kit: RoomKit,
) -> None:
    caller, streamer = Receiver("caller"), Streamer()
    room_id = await room_with(kit, caller, streamer)
    committing: asyncio.Queue[str] = asyncio.Queue()
    release = asyncio.Event()

    @kit.hook(HookTrigger.BEFORE_BROADCAST, name="slow-moderation")
    async def slow(event: RoomEvent, context: RoomContext) -> None:
        if event.response_id is not None:
            committing.put_nowait(event.response_id)
            await release.wait()

    await kit.send_event(room_id, "caller", TextContent("tell me"))
    streamer.parts.put_nowait("Being committed.")
    streamer.parts.put_nowait("Never sent.")
    cancelling = asyncio.create_task(kit.cancel_response(await committing.get()))
    await asyncio.sleep(0)
    assert not cancelling.done()  # it waits for the part in progress
    release.set()
    assert await cancelling is True
    await kit.wait_delivered(room_id)
    assert [body(e) for e in caller.delivered] == ["Being committed."]
    assert streamer.closed == ["tell me"]


async def test_a_newer_answer_replaces_the_streaming_one_when_the_channel_asks(
    kit: RoomKit,
) -> None:
    caller, streamer = Receiver("caller"), Streamer(cancel_previous=True)
    room_id = await room_with(kit, caller, streamer)
    await kit.send_event(room_id, "caller", TextContent("long story"))
    streamer.parts.put_nowait("Once upon a time.")
    await caller.answers(1)
    await kit.send_event(room_id, "caller", TextContent("never mind"))
    await asyncio.sleep(0)
    assert streamer.closed == ["long story"]
    streamer.parts.put_nowait("Sure.")
    streamer.parts.put_nowait(None)
    await kit.wait_answers(room_id)
    await kit.wait_delivered(room_id)
    answers = [(e.metadata["asked"], body(e)) for e in caller.delivered if e.response_id]
    assert answers == [("long story", "Once upon a time."), ("never mind", "Sure.")]


async def test_answers_stream_side_by_side_by_default(kit: RoomKit) -> None:
    class Slow(Streamer):
        async def _answer(self, asked: str) -> AsyncIterator[ChannelOutput]:
            await gate.wait()
            yield ChannelOutput(TextContent(f"about {asked}"))

    gate = asyncio.Event()
    caller = Receiver("caller")
    room_id = await room_with(kit, caller, Slow())
    await kit.send_event(room_id, "caller", TextContent("one"))
    await kit.send_event(room_id, "caller", TextContent("two"))
    gate.set()
    await kit.wait_answers(room_id)
    await kit.wait_delivered(room_id)
    assert sorted(body(e) for e in caller.delivered) == ["about one", "about two"]
    assert len({e.response_id for e in caller.delivered}) == 2


@pytest.mark.parametrize("how", ["detach", "close"])
async def test_an_answer_stops_when_its_channel_leaves_or_the_room_closes(
    kit: RoomKit, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caller, streamer = Receiver("caller"), Streamer()
    room_id = await room_with(kit, caller, streamer)
    await kit.send_event(room_id, "caller", TextContent("tell me"))
    streamer.parts.put_nowait("First.")
    await caller.answers(1)
    if how == "detach":
        await kit.detach_channel(room_id, "streamer")
    else:
        await kit.close_room(room_id)
    streamer.parts.put_nowait("Too late.")
    with caplog.at_level(logging.INFO, logger="voicegate.core.pipeline"):
        await kit.wait_answers(room_id)
    assert [body(e) for e in await kit.get_timeline(room_id)] == ["tell me", "First."]
    assert streamer.closed == ["tell me"]
    assert "dropped" in caplog.text


async def test_a_failing_stream_keeps_its_parts_and_is_logged(
    kit: RoomKit, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing(Streamer):
        async def _answer(self, asked: str) -> AsyncIterator[ChannelOutput]:
            yield ChannelOutput(TextContent("Before."))
            raise RuntimeError("model crashed")

    caller = RecordingChannel("caller")
    room_id = await room_with(kit, caller, Failing())
    with caplog.at_level(logging.ERROR, logger="voicegate.core.answers"):
        await kit.send_event(room_id, "caller", TextContent("tell me"))
        await kit.wait_answers()
        await kit.wait_delivered()
    assert [body(e) for e in caller.delivered] == ["Before."]
    assert "model crashed" in caplog.text


async def test_answering_channels_get_the_recent_events(kit: RoomKit) -> None:
    caller, streamer = Receiver("caller"), Streamer()
    room_id = await room_with(kit, caller)
    for number in range(RECENT_EVENTS + 5):
        await kit.send_event(room_id, "caller", TextContent(f"m{number}"))
    kit.register_channel(streamer)
    await kit.attach_channel(room_id, "streamer")
    question = await kit.send_event(room_id, "caller", TextContent("last"))
    streamer.parts.put_nowait(None)
    await kit.wait_answers()
    recent = streamer.contexts[0].recent_events
    assert len(recent) == RECENT_EVENTS
    assert recent[-1].id == question.id
    assert [e.index for e in recent] == list(
        range(question.index - RECENT_EVENTS + 1, question.index + 1)
    )


async def test_closing_the_kit_cancels_the_answers_streaming() -> None:
    kit = RoomKit()
    streamer = Streamer()
    room_id = await room_with(kit, RecordingChannel("caller"), streamer)
    await kit.send_event(room_id, "caller", TextContent("tell me"))
    await asyncio.sleep(0)
    await kit.close()
    assert streamer.closed == ["tell me"]

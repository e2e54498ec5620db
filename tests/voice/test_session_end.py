"""Sessions end: an idle timeout on the fake clock, and rooms that close with their last caller."""

from __future__ import annotations

import pytest

from voicegate import RoomKit
from voicegate.core.models import RoomStatus
from voicegate.testing import Caller, ScriptedSTT, silence, voice_harness
from voicegate.voice.inbound import STALL_MS
from voicegate.voice.notices import AnswerEnded, AnswerStarted, FinalTranscript
from voicegate.voice.session import VoiceSettings

IDLE = VoiceSettings(idle_timeout_ms=5000)


async def quiet(caller: Caller, ms: int) -> None:
    """``ms`` of silence in steps shorter than the inbound path's stall time: sent at once,
    a busy loop could let the path feed silence of its own for the time the clock jumped
    before the audio arrived, and the session would be quiet twice as long."""
    step = STALL_MS // 2
    for _ in range(ms // step):
        if caller.transport.closed_with is not None:
            return
        await caller.send(silence(step))


async def test_a_silent_session_ends_after_the_idle_timeout() -> None:
    async with voice_harness(ScriptedSTT(["hello"]), settings=IDLE) as harness:
        async with harness.call() as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            await caller.transport.wait_for(AnswerEnded)
            await quiet(caller, 4000)  # quiet, but not for long enough yet
            assert caller.transport.closed_with is None
            await quiet(caller, 1200)
            await caller.transport.wait_until(lambda: caller.transport.closed_with is not None)
            assert caller.transport.closed_with == (4410, "idle_timeout")
        assert harness.gateway.sessions == {}


async def test_a_client_that_sends_nothing_ends_too() -> None:
    async with (
        voice_harness(ScriptedSTT([]), settings=IDLE) as harness,
        harness.call() as caller,
    ):
        harness.clock.advance(6.0)  # the stalled stream is fed silence as time passes
        await caller.transport.wait_until(lambda: caller.transport.closed_with is not None)
        assert caller.transport.closed_with == (4410, "idle_timeout")


async def test_an_answer_playing_is_no_idleness() -> None:
    async with (
        voice_harness(ScriptedSTT(["tell me"]), settings=IDLE) as harness,
        harness.call(hold_playout=True) as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(AnswerStarted)
        await quiet(caller, 8000)  # the caller listens to a long answer
        assert caller.transport.closed_with is None
        caller.transport.finish_playout()
        await caller.transport.wait_for(AnswerEnded)
        await quiet(caller, 5200)
        await caller.transport.wait_until(lambda: caller.transport.closed_with is not None)
        assert caller.transport.closed_with == (4410, "idle_timeout")


async def test_the_room_a_session_got_closes_when_its_last_caller_leaves() -> None:
    async with voice_harness(ScriptedSTT(["hi"] * 10)) as harness:
        for _ in range(30):
            async with harness.call():
                pass
        rooms = await harness.kit.store.list_rooms(limit=100)
        assert len(rooms) == 30
        assert {room.status for room in rooms} == {RoomStatus.CLOSED}
        assert harness.kit._rooms._rooms == {}  # and the engine keeps none of them

        async with harness.call() as first:
            async with harness.call(room_id=first.room_id):
                pass  # the second caller leaves: the first is still there
            assert (await harness.kit.get_room(first.room_id)).status is RoomStatus.ACTIVE
            await first.say(speech_ms=600, silence_ms=400)
            await first.transport.wait_for(FinalTranscript)
        assert (await harness.kit.get_room(first.room_id)).status is RoomStatus.CLOSED
        with pytest.raises(ConnectionRefusedError, match="room_not_found"):
            async with harness.call(room_id=first.room_id):
                pass


async def test_a_room_the_application_made_stays_open() -> None:
    async with RoomKit() as kit, voice_harness(ScriptedSTT([]), kit=kit) as harness:
        room = await kit.create_room(metadata={"team": "support"})
        for _ in range(3):
            async with harness.call(room_id=room.id):
                pass
        assert (await kit.get_room(room.id)).status is RoomStatus.ACTIVE

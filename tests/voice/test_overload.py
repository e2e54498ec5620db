"""An overloaded recogniser: every admitted caller's turn is transcribed, new callers are
refused on measured load, and nothing fails in the background."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from voicegate import RoomKit
from voicegate.audio.vad import WebRTCVAD
from voicegate.core.channels import ChannelOutput
from voicegate.core.models import RoomContext, RoomEvent, TextContent
from voicegate.testing import BusySTT, Caller, FakeClock, ToneTTS, VoiceHarness
from voicegate.voice.admission import CapacityError
from voicegate.voice.echo import EchoResponder
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.inbound import InboundMixer
from voicegate.voice.notices import AnswerStarted, FinalTranscript, SessionError
from voicegate.voice.session import EndOfTurn, VoiceSettings

CALLERS = 12
TURNS = 4


class NotedResponder(EchoResponder):
    """Answers every turn with "Noted.": words the callers never say, so the echo guard
    (speech made only of the answer's words is its echo) does not take a caller's next
    "hello", said while the answer to the last one plays, for the answer's echo."""

    async def on_event(self, event: RoomEvent, context: RoomContext) -> ChannelOutput | None:
        heard = await super().on_event(event, context)
        return None if heard is None else ChannelOutput(TextContent("Noted."))


@pytest.fixture
async def overloaded() -> AsyncIterator[tuple[VoiceHarness, BusySTT, list[dict[str, Any]]]]:
    """A gateway on a recogniser that needs 50 ms a call (12 callers speaking at once ask
    for far more), with everything the event loop reports about failed tasks."""
    problems: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: problems.append(context))
    stt = BusySTT(seconds_per_call=0.05)
    clock = FakeClock()
    async with RoomKit() as kit:
        gateway = VoiceGateway(
            kit,
            stt=stt,
            tts=ToneTTS(),
            responder=NotedResponder(),
            inbound=InboundMixer(WebRTCVAD(2), clock=clock),
            max_final_wait=0.2,
            # each 400 ms pause ends a turn: the semantic end of turn would wait for the
            # words of the pause, which an overloaded recogniser does not give in time; a
            # MemoryTransport has no loudspeaker, so no echo to cancel (as voice_harness)
            settings=VoiceSettings(end_of_turn=EndOfTurn.FIXED, echo_cancellation=False),
        )
        await gateway.start()
        yield VoiceHarness(kit, gateway, clock), stt, problems
        await gateway.close()
    stt.close()


async def test_no_final_is_lost_and_new_callers_are_refused_while_overloaded(
    overloaded: tuple[VoiceHarness, BusySTT, list[dict[str, Any]]],
) -> None:
    harness, stt, problems = overloaded
    async with AsyncExitStack() as calls:
        callers: list[Caller] = [
            await calls.enter_async_context(harness.call(participant_id=f"caller-{n}"))
            for n in range(CALLERS)
        ]
        for _ in range(TURNS):  # everyone speaks at once, four times over
            await asyncio.gather(*(c.say(speech_ms=600, silence_ms=400) for c in callers))
        await callers[0].transport.wait_until(
            lambda: harness.gateway.admission.overload() is not None, "an overload"
        )
        with pytest.raises(CapacityError, match="wait") as refused:
            async with harness.call():
                pass
        assert refused.value.reason == "overloaded"
        for caller in callers:
            await caller.transport.wait_for(AnswerStarted, TURNS)
            finals = caller.transport.of_type(FinalTranscript)
            assert [(f.text, f.event_id is not None) for f in finals] == [("hello", True)] * TURNS
            assert caller.transport.of_type(SessionError) == []
    for caller in callers:
        timeline = await harness.kit.get_timeline(caller.room_id)
        assert [e.source.channel_id.startswith("voice:") for e in timeline] == [True, False] * TURNS
    assert stt.finals + stt.partials >= CALLERS * TURNS
    gc.collect()
    await asyncio.sleep(0)
    assert problems == []

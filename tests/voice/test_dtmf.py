"""Key presses (DTMF) of a voice session, on fakes: into the room, through ON_DTMF, answered."""

from __future__ import annotations

import asyncio

import pytest

from voicegate import HookResult, HookTrigger
from voicegate.core.hooks import HookExecution
from voicegate.core.models import EventType
from voicegate.testing import ScriptedSTT, voice_harness
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.notices import AnswerStarted, FinalTranscript, RoomEventNotice
from voicegate.voice.session import VoiceSession


async def test_keys_become_dtmf_events_in_order_and_the_echo_answers_each() -> None:
    async with voice_harness(ScriptedSTT([])) as harness, harness.call() as caller:
        for digit in "5#*":
            caller.transport.press(digit, duration_ms=120)
        answers = [await caller.transport.wait_for(AnswerStarted, n) for n in (1, 2, 3)]
        timeline = await harness.kit.get_timeline(caller.room_id)

    presses = [event for event in timeline if event.type is EventType.DTMF]
    assert [event.content.body for event in presses] == ["5", "#", "*"]  # type: ignore[union-attr]
    assert presses[0].source.channel_id == f"voice:{caller.session_id}"
    assert presses[0].metadata["dtmf"] == {
        "session_id": caller.session_id,
        "duration_ms": 120,
        "source": "memory",
    }
    assert [answer.text for answer in answers] == [
        "You pressed 5.",
        "You pressed pound.",
        "You pressed star.",
    ]
    told = [n.event.id for n in caller.transport.of_type(RoomEventNotice)]
    assert presses[0].id in told  # the caller learns of its own key press
    assert caller.transport.of_type(FinalTranscript) == []  # a key is no transcript


async def test_on_dtmf_hooks_block_modify_and_observe_presses() -> None:
    observed: list[tuple[str, str]] = []
    seen = asyncio.Event()
    async with voice_harness(ScriptedSTT([])) as harness:

        @harness.kit.hook(HookTrigger.ON_DTMF, name="pin")
        async def keep_pins_out(key: DTMFDigit, session: VoiceSession) -> HookResult:
            if key.digit == "0":
                return HookResult.block("operator")
            return HookResult.modify(DTMFDigit("9", key.duration_ms, key.source))

        @harness.kit.hook(HookTrigger.ON_DTMF, execution=HookExecution.ASYNC, name="watch")
        async def watch(key: DTMFDigit, session: VoiceSession) -> None:
            observed.append((key.digit, session.id))
            seen.set()

        async with harness.call() as caller:
            caller.transport.press("0")
            caller.transport.press("1")
            answer = await caller.transport.wait_for(AnswerStarted)
            await asyncio.wait_for(seen.wait(), 10)  # the ASYNC hook runs in the background
            timeline = await harness.kit.get_timeline(caller.room_id)

    assert answer.text == "You pressed 9."
    assert [e.content.body for e in timeline if e.type is EventType.DTMF] == ["9"]  # type: ignore[union-attr]
    assert observed == [("9", caller.session_id)]


@pytest.mark.parametrize("digit", ["", "x", "55", "e"])
def test_only_the_sixteen_keys_are_dtmf(digit: str) -> None:
    with pytest.raises(ValueError, match="not a DTMF key"):
        DTMFDigit(digit)

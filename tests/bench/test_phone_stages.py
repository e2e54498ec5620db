"""``benchmarks/phone_stages.py`` reads the per-turn line a session logs at debug: the marks of a
real turn (fast harness) come back in order and cut into the benchmark's stages."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.bench.scripts import benchmark_script
from voicegate.testing import ScriptedSTT, voice_harness
from voicegate.testing.harness import silence
from voicegate.voice.notices import AnswerEnded, TurnMetrics


async def test_a_turns_logged_marks_parse_into_ordered_stages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    phone_stages = benchmark_script("phone_stages")
    caplog.set_level(logging.DEBUG, logger="voicegate.voice.turn")
    async with (
        voice_harness(ScriptedSTT(["turn on the lights"])) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=700, silence_ms=400)
        metrics = await caller.transport.wait_for(TurnMetrics)
        await caller.transport.wait_for(AnswerEnded)

    turns = phone_stages.server_turns(caplog.text)
    assert len(turns) == 1
    kind, marks = turns[0]
    assert kind == caller.transport.kind
    names = ["speech_ended", "endpointed", "transcribed", "answered", "first_audio"]
    assert list(marks) == names
    assert [marks[n] for n in names] == sorted(marks[n] for n in names)
    total_s = metrics.timings.stages()["total"]
    assert (marks["first_audio"] - marks["speech_ended"]) * 1000 == pytest.approx(
        total_s * 1000, abs=0.2
    )

    speech_end = marks["speech_ended"]
    heard = marks["first_audio"] + 0.015
    stages = phone_stages.stages(speech_end, heard, marks)
    assert list(stages) == list(phone_stages.STAGES)
    assert stages["outbound"] == pytest.approx(15.0, abs=0.2)
    # inbound + endpoint silence + stt + room + tts + outbound: the whole wait, end to end
    assert sum(stages.values()) + phone_stages.ENDPOINT_S * 1000 == pytest.approx(
        (heard - speech_end) * 1000, abs=0.5
    )


async def test_the_stalls_the_server_fed_silence_for_are_counted_per_transport(
    caplog: pytest.LogCaptureFixture,
) -> None:
    phone_stages = benchmark_script("phone_stages")
    caplog.set_level(logging.DEBUG, logger="voicegate.voice")

    async def stalls_reach(count: int) -> None:
        async with asyncio.timeout(10):
            while phone_stages.stalls(caplog.text)[kind] < count:  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    async with (
        voice_harness(ScriptedSTT(["hello"])) as harness,
        harness.call() as caller,
        harness.call() as other_caller,
    ):
        await caller.say(speech_ms=100)
        await other_caller.say(speech_ms=100)
        kind = caller.transport.kind
        assert phone_stages.stalls(caplog.text)[kind] == 0
        harness.clock.advance(1.0)  # neither sends for a second: the watchdog feeds silence
        await stalls_reach(2)
        await caller.send(silence(20))  # back: its next stall is a new episode
        harness.clock.advance(1.0)
        await stalls_reach(3)
        assert phone_stages.stalls(caplog.text)[kind] == 3  # once per stall, not per frame

"""``benchmarks/turn_stages.py`` reads what a server logs at debug: a real turn's marks (fast
harness), and the lines of real model workers and lanes (a final that waited behind a running
job, a partial, a synthesis on a worker alone and through lanes), into the turn's stages."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from tests.bench.scripts import benchmark_script
from voicegate.inference import InferenceLanes, InferenceWorker
from voicegate.testing import ScriptedSTT, voice_harness
from voicegate.voice.notices import AnswerEnded, TurnMetrics


def _upper(values: list[str]) -> list[str | BaseException | None]:
    return [value.upper() for value in values]


def _slow_upper(values: list[str]) -> list[str | BaseException | None]:
    time.sleep(0.05)
    return _upper(values)


async def test_a_servers_debug_lines_parse_into_the_turns_stages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    turn_stages = benchmark_script("turn_stages")
    caplog.set_level(logging.DEBUG, logger="voicegate")
    async with (
        voice_harness(ScriptedSTT(["turn on the lights"])) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=700, silence_ms=400)
        metrics = await caller.transport.wait_for(TurnMetrics)
        await caller.transport.wait_for(AnswerEnded)
    stt = InferenceWorker("stt-test", max_queue=1)
    tts = InferenceWorker("tts-test", max_queue=4)
    try:
        lanes = InferenceLanes(stt)
        held = threading.Event()

        def hold(value: str) -> str:
            held.wait(10)
            return value

        first = asyncio.create_task(lanes.run(hold, "first"))
        final = asyncio.create_task(lanes.run_batched(_upper, "final"))
        await asyncio.sleep(0.05)  # the final waits behind the first job
        held.set()
        assert await asyncio.gather(first, final) == ["first", "FINAL"]
        assert await lanes.offer("s", _slow_upper, lambda: "partial") == "PARTIAL"
        await tts.run(time.sleep, 0.02)
        tts_lanes = InferenceLanes(tts)
        held.clear()
        first = asyncio.create_task(tts_lanes.run(hold, "first piece"))
        piece = asyncio.create_task(tts_lanes.run(str.upper, "next piece"))
        await asyncio.sleep(0.05)  # the piece waits behind the first
        held.set()
        assert await asyncio.gather(first, piece) == ["first piece", "NEXT PIECE"]
    finally:
        stt.close()
        tts.close()

    # a server whose Piper has no lanes (main before them) logs its worker's lines alone
    worker_lines = [line for line in caplog.text.splitlines() if "lanes of tts" not in line]
    worker_call = turn_stages.parse_log("\n".join(worker_lines), 10.0)["tts_call_ms"]
    assert worker_call["n"] == 3
    assert worker_call["p50"] >= 20
    parsed = turn_stages.parse_log(caplog.text, 10.0)
    stages = parsed["stages_ms"]
    for name, seconds in metrics.timings.stages().items():
        if name != "total":
            assert stages[name]["n"] == 1
            assert stages[name]["p50"] == pytest.approx(seconds * 1000, abs=0.2)
    assert parsed["final_wait_ms"]["n"] == 2  # the first job (no wait) and the final
    assert parsed["final_wait_ms"]["p95"] >= 40  # the final waited for the first
    assert parsed["final_call_ms"]["n"] == 2
    assert parsed["partial_calls"] == 1
    assert 0.005 <= parsed["partial_share"] < 0.05  # 50 ms (or more: a busy machine) of 10 s
    assert parsed["tts_call_ms"]["n"] == 2  # the lanes' lines, not their worker's
    assert parsed["tts_wait_ms"]["p95"] >= 40  # the piece waited for the first

"""Event-loop lag while N voice sessions talk to the real models at once.

Each session is a real gateway session (``voicegate.testing.voice_harness``: inbound
path, VAD, endpointer, listener, turns, speaker, room engine with the echo responder) on
Whisper tiny.en and Piper joe-medium. Every session speaks Piper sentences in real time
(20 ms frames), then 0.6 s of silence, waits for the echo's answer to be synthesised and
speaks the next one. Meanwhile a ticker asks the loop to wake it every 5 ms and records
how late it wakes: that lateness is what every session's audio and every message waits
on top of its own work. Models and sessions share this process, as in ``voicegate serve``.

    python benchmarks/loop_lag.py [--sessions 1 2 4 8] [--turns 3]

Prints p50 / p99 / max lag per N and writes ``benchmarks/results/loop_lag.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.audio.resample import resample
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.testing import Caller, silence, voice_harness
from voicegate.tts.piper import PiperTTS
from voicegate.voice.notices import AnswerEnded

RESULTS = Path(__file__).resolve().parent / "results"
TICK_S = 0.005
SENTENCES = (
    "Please turn on the kitchen lights.",
    "What is the weather like tomorrow morning?",
    "Can you remind me to call my mother on Sunday?",
    "Our meeting has been moved to Thursday afternoon.",
)


async def talk(caller: Caller, clips: list[AudioFrame], turns: int) -> None:
    """Speak ``turns`` sentences in real time, each answered before the next."""
    loop = asyncio.get_running_loop()
    for turn in range(turns):
        clip = clips[turn % len(clips)]
        audio = AudioFrame(np.concatenate([clip.samples, silence(600).samples]), 16000)
        size = audio.sample_rate * FRAME_MS // 1000
        started = loop.time()
        for index, begin in enumerate(range(0, audio.num_samples, size)):
            await caller.send(AudioFrame(audio.samples[begin : begin + size], audio.sample_rate))
            await asyncio.sleep(max(0.0, started + (index + 1) * FRAME_MS / 1000 - loop.time()))
        await caller.transport.wait_for(AnswerEnded, count=turn + 1)


async def measure(
    stt: FasterWhisperSTT, tts: PiperTTS, clips: list[AudioFrame], sessions: int, turns: int
) -> dict[str, float]:
    lags: list[float] = []
    running = True

    async def tick() -> None:
        while running:
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            lags.append(max(0.0, time.perf_counter() - before - TICK_S))

    async with voice_harness(stt, tts) as harness:
        ticker = asyncio.create_task(tick())
        started = time.perf_counter()

        async def one(number: int) -> None:
            async with harness.call(participant_id=f"caller-{number}") as caller:
                await talk(caller, clips[number % len(clips) :] + clips, turns)

        await asyncio.gather(*(one(n) for n in range(sessions)))
        elapsed = time.perf_counter() - started
        running = False
        await ticker
    ordered = sorted(lags)
    return {
        "sessions": sessions,
        "turns": sessions * turns,
        "seconds": round(elapsed, 1),
        "ticks": len(lags),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def main(session_counts: list[int], turns: int) -> None:
    stt, tts = FasterWhisperSTT(), PiperTTS()
    await stt.warm_up()
    await tts.warm_up()
    clips = [resample(await tts.synthesize(text), 16000) for text in SENTENCES]
    rows = [await measure(stt, tts, clips, count, turns) for count in session_counts]
    stt.close()
    tts.close()
    print(f"\n{'sessions':>8} {'turns':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for row in rows:
        print(
            f"{row['sessions']:>8} {row['turns']:>6} {row['p50_ms']:>8.2f}"
            f" {row['p99_ms']:>8.2f} {row['max_ms']:>8.2f}"
        )
    RESULTS.mkdir(exist_ok=True)
    report = {
        "benchmark": "loop_lag",
        "tick_ms": TICK_S * 1000,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
        "results": rows,
    }
    (RESULTS / "loop_lag.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {RESULTS / 'loop_lag.json'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--turns", type=int, default=3, help="turns each session speaks")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.sessions, arguments.turns))

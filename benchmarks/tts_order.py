"""Many answers through one Piper voice at once: first audio and gaps, two checkouts side by side.

Each of N sessions asks ``PiperTTS.synthesize_stream`` for a three-sentence answer (three
pieces), plays it in real time (a piece plays from when it arrives or when the audio before it
ends, whichever is later), and asks again ``PAUSE_S`` after it has played out (the caller's
turn), ``--rounds`` times; the sessions start ``STAGGER_S`` apart. Per answer: its first
audio (asked to first piece) and its gaps (a piece that arrived after the audio before it had
run out: the caller hears silence mid-answer). Each ``--python NAME=PYTHON`` (another
checkout's ``.venv/bin/python``) runs the same workload in a process of its own, the
checkouts taking turns ``--repeat`` times, the order alternating:

    python benchmarks/tts_order.py --sessions 16 --rounds 3 --repeat 2 \\
        --python main=../main-base/.venv/bin/python --python branch=.venv/bin/python

Writes ``benchmarks/results/tts_order.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from voicegate.tts.piper import PiperTTS

RESULTS = Path(__file__).resolve().parent / "results"
PAUSE_S = 2.0
STAGGER_S = 0.25
ANSWERS = (
    "Sure, I can help with that. The kitchen lights are now on. Is there anything else?",
    "The meeting starts at nine tomorrow. It is in the large room. I will remind you at eight.",
    "I sent the message to the whole team. Two people have read it already. Nobody replied yet.",
    "It is sunny in Paris today. The high is twenty two degrees. Tomorrow it may rain a little.",
    "Here is some quiet music for the living room. The volume is low. Say stop to end it.",
    "Your table for two is booked for seven. The restaurant is on the corner. Enjoy your evening.",
)


async def _session(tts: PiperTTS, index: int, rounds: int) -> list[dict[str, float]]:
    await asyncio.sleep(index * STAGGER_S)
    answers = []
    for round_index in range(rounds):
        asked = time.monotonic()
        played_out = asked
        first_ms = 0.0
        gaps: list[float] = []
        async for piece in tts.synthesize_stream(ANSWERS[(index + round_index) % len(ANSWERS)]):
            arrived = time.monotonic()
            if first_ms == 0.0:
                first_ms = (arrived - asked) * 1000.0
            elif arrived > played_out:
                gaps.append((arrived - played_out) * 1000.0)
            played_out = max(played_out, arrived) + piece.duration
        answers.append({"first_ms": first_ms, "gaps": len(gaps), "gap_ms": sum(gaps)})
        await asyncio.sleep(max(0.0, played_out - time.monotonic()) + PAUSE_S)
    return answers


async def _child(sessions: int, rounds: int) -> dict[str, Any]:
    tts = PiperTTS()
    try:
        await tts.warm_up()
        load = os.getloadavg()[0]
        done = await asyncio.gather(*(_session(tts, i, rounds) for i in range(sessions)))
    finally:
        tts.close()
    answers = [answer for session in done for answer in session]
    first = np.array([answer["first_ms"] for answer in answers])
    gapped = [answer for answer in answers if answer["gaps"]]
    return {
        "load_average_1m": round(load, 2),
        "answers": len(answers),
        "first_audio_ms": {
            "p50": round(float(np.percentile(first, 50))),
            "p95": round(float(np.percentile(first, 95))),
        },
        "answers_with_gaps": len(gapped),
        "gap_ms_total": round(sum(answer["gap_ms"] for answer in answers)),
    }


def _run(python: str, sessions: int, rounds: int) -> dict[str, Any]:
    command = [python, "-P", __file__, "--child", f"--sessions={sessions}", f"--rounds={rounds}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="answers per session")
    parser.add_argument("--repeat", type=int, default=2, help="runs per checkout")
    parser.add_argument("--python", action="append", default=[], help="NAME=PYTHON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--name", default="tts_order", help="result file name")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.sessions, args.rounds))))
        return
    pythons = dict(text.split("=", 1) for text in args.python) or {"this checkout": sys.executable}
    names = list(pythons)
    runs = []
    print("| code | run | load | answers | first audio p50 / p95 ms | with gaps | gaps ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for repeat in range(args.repeat):
        for name in names[::-1] if repeat % 2 else names:
            figures = _run(pythons[name], args.sessions, args.rounds)
            run = {"code": name, "run": repeat + 1, **figures}
            runs.append(run)
            first = run["first_audio_ms"]
            print(
                f"| {name} | {repeat + 1} | {run['load_average_1m']} | {run['answers']} "
                f"| {first['p50']} / {first['p95']} | {run['answers_with_gaps']} "
                f"| {run['gap_ms_total']} |",
                flush=True,
            )
    RESULTS.mkdir(exist_ok=True)
    document = {"sessions": args.sessions, "rounds": args.rounds, "pythons": pythons, "runs": runs}
    (RESULTS / f"{args.name}.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Where a phone call's answer time goes, beside a WebSocket call's, turn by turn in one run.

One WebSocket, one Twilio Media Stream and one SIP caller stay connected to one
``voicegate serve`` (started at log level debug, whose per-turn line gives the server's marks
on the machine's monotonic clock) and speak in turn, the order rotating each round, so the
three share every moment of the machine's load. Each turn is cut into stages, from the
caller's last speech sample to its first answer audio:

- ``inbound``: until the server ended the utterance, less the 300 ms of end-of-speech
  silence the endpointer waits for (the line, µ-law decoding, resampling, the VAD);
- ``stt``: until the final transcript; ``room``: until the answer reached the session;
- ``tts``: until its first audio was queued for the call (synthesis, resampling);
- ``outbound``: until that audio reached the caller (encoding, pacing, the line).

    python benchmarks/phone_stages.py [--rounds 8]

Writes ``benchmarks/results/phone_stages.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voicegate.bench.caller import Caller
from voicegate.bench.callers import make_caller
from voicegate.bench.runner import await_answer
from voicegate.bench.server import GatewayProcess
from voicegate.bench.speech import SpeechClip, piper_clips
from voicegate.bench.turns import TurnResult
from voicegate.cli.logs import LOG_LEVEL_ENV
from voicegate.voice.session import VoiceSettings

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
NAME = "phone_stages"
TRANSPORTS = ("websocket", "twilio", "sip")
STAGES = ("inbound", "stt", "room", "tts", "outbound")
ENDPOINT_S = VoiceSettings().end_of_speech_ms / 1000.0  # the end-of-speech silence
TURN_TIMEOUT_S = 30.0
_TURN_LINE = re.compile(r"session \S+ \((\w+)\): turn \S+ at (.*)$")


def server_turns(log: str) -> list[tuple[str, dict[str, float]]]:
    """Every turn the server logged: its transport and its marks (monotonic seconds)."""
    turns = []
    for line in log.splitlines():
        if match := _TURN_LINE.search(line):
            marks = dict(part.split("=") for part in match.group(2).split())
            turns.append((match.group(1), {name: float(value) for name, value in marks.items()}))
    return turns


def stages(speech_end: float, heard: float, marks: dict[str, float]) -> dict[str, float]:
    """The stages (ms) of a turn whose caller stopped at ``speech_end`` and heard its answer
    at ``heard``, from the server's ``marks``."""
    points = (
        speech_end + ENDPOINT_S,
        marks["endpointed"],
        marks["transcribed"],
        marks["answered"],
        marks["first_audio"],
        heard,
    )
    return {
        name: round((end - start) * 1000.0, 1)
        for name, start, end in zip(STAGES, points, points[1:], strict=False)
    }


async def _turn(caller: Caller, clip: SpeechClip, result: TurnResult) -> tuple[float, float | None]:
    """Speak; return the end of speech and when the answer was first heard."""
    since = time.monotonic()
    speech_end = await caller.speak(clip)
    late = await await_answer(caller, speech_end, TURN_TIMEOUT_S)
    caller.measure(result, since, speech_end)
    result.error = late or result.error
    first = result.client_ms.get("first_audio")
    return speech_end, None if first is None else speech_end + first / 1000.0


async def measure(rounds: int, pause: float) -> dict[str, Any]:
    """Run ``rounds`` rounds of one turn per transport; the per-turn stages and summary."""
    load_before = os.getloadavg()
    os.environ[LOG_LEVEL_ENV] = "debug"
    with tempfile.TemporaryDirectory(prefix="voicegate-phone-stages-") as scratch:
        clips = await piper_clips(Path(scratch) / "speech")
        log_path = Path(scratch) / "serve.log"
        spoken: list[tuple[TurnResult, float, float | None]] = []
        async with GatewayProcess(log_path) as address:
            callers = {name: make_caller(name, address) for name in TRANSPORTS}
            for caller in callers.values():
                await caller.__aenter__()
            try:
                for index in range(rounds):
                    order = TRANSPORTS[index % 3 :] + TRANSPORTS[: index % 3]
                    for name in order:
                        clip = clips[index % len(clips)]
                        result = TurnResult(name, 1, 0, index, clip.text)
                        speech_end, heard = await _turn(callers[name], clip, result)
                        spoken.append((result, speech_end, heard))
                        print(f"round {index + 1}/{rounds} {name}: {result.client_ms}", flush=True)
                        await asyncio.sleep(pause)
            finally:
                for caller in callers.values():
                    await caller.__aexit__(None, None, None)
        logged = server_turns(log_path.read_text(errors="replace"))
    return _document(spoken, logged, load_before)


def _document(
    spoken: Sequence[tuple[TurnResult, float, float | None]],
    logged: Sequence[tuple[str, dict[str, float]]],
    load_before: tuple[float, float, float],
) -> dict[str, Any]:
    turns = []
    for result, speech_end, heard in spoken:
        row: dict[str, Any] = {"transport": result.transport, "round": result.turn}
        row["first_audio_ms"] = result.client_ms.get("first_audio")
        marks = next(
            (
                m
                for kind, m in logged
                if kind == result.transport
                and heard is not None
                and speech_end < m["endpointed"] < m["first_audio"] <= heard + 0.001
            ),
            None,
        )
        if heard is not None and marks is not None:
            row["stages_ms"] = stages(speech_end, heard, marks)
        else:
            row["error"] = result.error or "no server turn matched"
        turns.append(row)
    summary = {}
    for transport in TRANSPORTS:
        mine = [t for t in turns if t["transport"] == transport and "stages_ms" in t]
        summary[transport] = {
            "turns": len(mine),
            **{
                stage: round(float(np.median([t["stages_ms"][stage] for t in mine])), 1)
                for stage in STAGES
                if mine
            },
            "first_audio": round(float(np.median([t["first_audio_ms"] for t in mine])), 1)
            if mine
            else None,
        }
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": {"start": list(load_before), "end": list(os.getloadavg())},
        },
        "summary_p50_ms": summary,
        "turns": turns,
    }


def plot(document: dict[str, Any], path: Path) -> None:
    """Stacked bars: the median of every stage, per transport."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = document["summary_p50_ms"]
    names = [t for t in TRANSPORTS if summary[t]["turns"]]
    figure, axes = plt.subplots(figsize=(7, 4))
    bottom = np.full(len(names), ENDPOINT_S * 1000.0)
    axes.bar(names, bottom, color="lightgrey", label="end-of-speech silence")
    for stage in STAGES:
        values = np.array([summary[t][stage] for t in names])
        axes.bar(names, values, bottom=bottom, label=stage)
        bottom += values
    load = document["machine"]["load_average"]
    axes.set_ylabel("ms after the end of speech (medians)")
    axes.set_title(
        f"Phone calls beside WebSocket, interleaved (load {load['start'][0]:.0f}"
        f"-{load['end'][0]:.0f})"
    )
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    document = asyncio.run(measure(args.rounds, args.pause))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{NAME}.json").write_text(json.dumps(document, indent=2))
    print(json.dumps(document["summary_p50_ms"], indent=2))
    plot(document, args.out / f"{NAME}.png")


if __name__ == "__main__":
    main()

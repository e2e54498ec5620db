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
    python benchmarks/phone_stages.py --callers 3 --rounds 4
    python benchmarks/phone_stages.py --callers 8 --rounds 6 --pause 0.8 --apart

With ``--callers N`` (more than 1) the transports share a level instead: N callers of each
transport call at once, each speaking ``--rounds`` turns and again ``--pause`` seconds after
its answer ended (as ``voicegate bench`` does), so the three carry the same load at the same
moments; a turn is matched to the server's by its first answer audio. With ``--apart`` each
transport of ``--transports`` has a level of its own, one after another in that order, as
``voicegate bench`` runs them (``--callers 8 --rounds 6 --pause 0.8 --apart`` is the bench's
8-caller level, with the stages). The server's log also counts, per transport, the stalls it
fed silence for (``stalls``: no audio for 200 ms); ``cpu_s`` holds the CPU seconds the server
and the callers used in each level (Linux).

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
from voicegate.bench.server import GatewayAddress, GatewayProcess, wait_accepting
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
_JOINED_LINE = re.compile(r"session (\S+) \((\w+)\) joined room")
_STALL_LINE = re.compile(r"session (\S+): no audio for \d+ ms: feeding silence")


def server_turns(log: str) -> list[tuple[str, dict[str, float]]]:
    """Every turn the server logged: its transport and its marks (monotonic seconds)."""
    turns = []
    for line in log.splitlines():
        if match := _TURN_LINE.search(line):
            marks = dict(part.split("=") for part in match.group(2).split())
            turns.append((match.group(1), {name: float(value) for name, value in marks.items()}))
    return turns


def stalls(log: str) -> dict[str, int]:
    """How many times the server fed silence for a stalled session, per transport."""
    kinds: dict[str, str] = {}
    counts = dict.fromkeys(TRANSPORTS, 0)
    for line in log.splitlines():
        if joined := _JOINED_LINE.search(line):
            kinds[joined.group(1)] = joined.group(2)
            counts.setdefault(joined.group(2), 0)
        elif (stall := _STALL_LINE.search(line)) and stall.group(1) in kinds:
            counts[kinds[stall.group(1)]] += 1
    return counts


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


async def measure(
    rounds: int,
    pause: float,
    callers: int = 1,
    transports: Sequence[str] = TRANSPORTS,
    apart: bool = False,
) -> dict[str, Any]:
    """Run ``rounds`` turns per caller; the per-turn stages and summary. One caller per
    transport speaks in turn (rotating the order each round); ``callers`` > 1 call at once,
    those of all ``transports`` together, or ``apart``: a level per transport, in order."""
    load_before = os.getloadavg()
    os.environ[LOG_LEVEL_ENV] = "debug"
    with tempfile.TemporaryDirectory(prefix="voicegate-phone-stages-") as scratch:
        clips = await piper_clips(Path(scratch) / "speech")
        log_path = Path(scratch) / "serve.log"
        server = GatewayProcess(log_path)
        cpu_s: dict[str, dict[str, float]] = {}  # per level: the server's and the callers' CPU
        async with server as address:
            if callers == 1:
                spoken = await _in_turn(address, clips, rounds, pause, transports)
            else:
                levels = [[name] for name in transports] if apart else [list(transports)]
                spoken = []
                for level in levels:
                    await wait_accepting(address)
                    before = _cpu_s(server.pid), time.process_time()
                    # the transports' callers of one index speak the same clips: each is the
                    # first of them for as many indexes, not always the same one
                    calls = [
                        _level_caller(address, name, index, place, clips, rounds, pause)
                        for index in range(callers)
                        for name in level
                        for place in [(level.index(name) + index) % len(level)]
                    ]
                    spoken += [turn for turns in await asyncio.gather(*calls) for turn in turns]
                    cpu_s[",".join(level)] = {
                        "server": round(_cpu_s(server.pid) - before[0], 2),
                        "callers": round(time.process_time() - before[1], 2),
                    }
        log = log_path.read_text(errors="replace")
    document = _document(spoken, server_turns(log), load_before)
    document["callers_per_transport"] = callers
    document["levels"] = "apart" if apart else "shared"
    document["stalls"] = stalls(log)
    document["cpu_s"] = cpu_s
    return document


def _cpu_s(pid: int) -> float:
    """CPU seconds (user and system, all threads) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Spoken = tuple[TurnResult, float, float | None]


async def _in_turn(
    address: GatewayAddress,
    clips: Sequence[SpeechClip],
    rounds: int,
    pause: float,
    transports: Sequence[str],
) -> list[Spoken]:
    """One caller per transport, speaking in turn, the order rotating each round."""
    spoken: list[Spoken] = []
    callers = {name: make_caller(name, address) for name in transports}
    for caller in callers.values():
        await caller.__aenter__()
    try:
        for index in range(rounds):
            shift = index % len(transports)
            order = [*transports[shift:], *transports[:shift]]
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
    return spoken


async def _level_caller(
    address: GatewayAddress,
    name: str,
    index: int,
    place: int,
    clips: Sequence[SpeechClip],
    rounds: int,
    pause: float,
) -> list[Spoken]:
    """One of the callers of a level (the ``place``-th transport in it): its turns, each
    ``pause`` after the answer ended."""
    await asyncio.sleep(index * 0.25 + place * 0.08)
    spoken: list[Spoken] = []
    async with make_caller(name, address) as caller:
        for turn in range(rounds):
            clip = clips[(index * rounds + turn) % len(clips)]
            result = TurnResult(name, 0, index, turn, clip.text)
            speech_end, heard = await _turn(caller, clip, result)
            spoken.append((result, speech_end, heard))
            print(f"{name} caller {index + 1} turn {turn + 1}: {result.client_ms}", flush=True)
            ended = caller.answer_ended(speech_end) or time.monotonic()
            await asyncio.sleep(max(0.0, ended + pause - time.monotonic()))
    return spoken


def _document(
    spoken: Sequence[Spoken],
    logged: Sequence[tuple[str, dict[str, float]]],
    load_before: tuple[float, float, float],
) -> dict[str, Any]:
    turns = []
    for result, speech_end, heard in spoken:
        row: dict[str, Any] = {
            "transport": result.transport,
            "caller": result.client,
            "round": result.turn,
            "speech_end": round(speech_end, 3),  # the monotonic clock: turns line up in time
        }
        row["first_audio_ms"] = result.client_ms.get("first_audio")
        candidates = [
            m
            for kind, m in logged
            if kind == result.transport
            and heard is not None
            and speech_end < m["endpointed"] < m["first_audio"] <= heard + 0.001
        ]  # the one whose first audio this caller heard: the latest before it
        marks = max(candidates, key=lambda m: m["first_audio"], default=None)
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
            "first_audio_p95": round(
                float(np.percentile([t["first_audio_ms"] for t in mine], 95)), 1
            )
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
    parser.add_argument("--callers", type=int, default=1, help="callers per transport at once")
    parser.add_argument(
        "--transports",
        type=lambda text: tuple(text.split(",")),
        default=TRANSPORTS,
        help=f"comma-separated, among {','.join(TRANSPORTS)}",
    )
    parser.add_argument("--apart", action="store_true", help="a level per transport")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if set(args.transports) - set(TRANSPORTS):
        parser.error(f"--transports: expected some of {','.join(TRANSPORTS)}")
    document = asyncio.run(
        measure(args.rounds, args.pause, args.callers, args.transports, args.apart)
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{NAME}.json").write_text(json.dumps(document, indent=2))
    print(json.dumps(document["summary_p50_ms"], indent=2))
    print("stalls fed with silence:", document["stalls"])
    plot(document, args.out / f"{NAME}.png")


if __name__ == "__main__":
    main()

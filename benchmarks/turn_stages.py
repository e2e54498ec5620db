"""Where a turn's time goes at N WebSocket callers, for two or more server settings side by side.

Each setting is one ``voicegate serve`` (log level debug), all started before the first level
and kept running, so they share the machine's load alike; for each N, the settings take turns
running ``voicegate bench``'s level of N WebSocket callers (3 turns each), the order
alternating from one N and one round to the next. From each server's log, cut at each
level's start and end, come the turn's stages: its per-turn marks (``endpoint``: the
end-of-speech silence; ``stt``: until the final transcript; ``room``; ``tts``: until the
first answer audio was queued), and the model workers' own lines: how long each final
(a required job) waited for the recogniser and how long its call ran, how much of the
recogniser's time went to partials, how long each synthesis waited for Piper and ran.

    python benchmarks/turn_stages.py --clients 1,8,16 --rounds 1 \\
        --setting "batch 8=--stt-batch 8" --setting "batch 1=--stt-batch 1"

``--python NAME=PATH`` runs setting NAME's server with another checkout's Python (its
``.venv/bin/python``): the same workload against two versions of the code. Piper's wait is
read from its lanes' lines where the server has them (from this branch on), else from its
worker's.

Writes ``benchmarks/results/turn_stages.json`` and ``.png`` (``--name`` changes the name).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voicegate.bench.runner import BenchConfig, run_levels
from voicegate.bench.server import GatewayAddress, GatewayProcess
from voicegate.bench.speech import SpeechClip, piper_clips
from voicegate.bench.turns import TurnResult
from voicegate.cli.logs import LOG_LEVEL_ENV

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
_TURN_LINE = re.compile(r"session \S+ \(\w+\): turn \S+ at (.*)$")
_LANES_LINE = re.compile(
    r"lanes of stt-\S+: (\d+) (required|optional) job\(s\) waited ([\d.,]+) ms, ran ([\d.]+) ms"
)
_TTS_LINE = re.compile(r"worker tts-\S+: a job waited ([\d.]+) ms, ran ([\d.]+) ms")
_TTS_LANES_LINE = re.compile(
    r"lanes of tts-\S+: 1 required job\(s\) waited ([\d.]+) ms, ran ([\d.]+)"
)
MARK_STAGES = (
    ("endpoint", "speech_ended", "endpointed"),
    ("stt", "endpointed", "transcribed"),
    ("room", "transcribed", "answered"),
    ("tts", "answered", "first_audio"),
)


def _percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None}
    array = np.asarray(values, dtype=float)
    return {
        "n": len(values),
        "p50": round(float(np.percentile(array, 50)), 1),
        "p95": round(float(np.percentile(array, 95)), 1),
    }


def parse_log(log: str, seconds: float) -> dict[str, Any]:
    """The stages of the turns in ``log`` (one level's part of a server log, ``seconds`` long)."""
    stages: dict[str, list[float]] = {name: [] for name, _, _ in MARK_STAGES}
    final_waits: list[float] = []
    final_runs: list[float] = []
    final_batches: list[int] = []
    partial_ms = 0.0
    partial_calls = 0
    tts_jobs: dict[str, tuple[list[float], list[float]]] = {"lanes": ([], []), "worker": ([], [])}
    for line in log.splitlines():
        if match := _TURN_LINE.search(line):
            marks = {k: float(v) for k, v in (part.split("=") for part in match.group(1).split())}
            for name, start, end in MARK_STAGES:
                if start in marks and end in marks:
                    stages[name].append((marks[end] - marks[start]) * 1000.0)
        elif match := _LANES_LINE.search(line):
            count, kind, waits, ran = match.groups()
            if kind == "required":
                final_waits.extend(float(wait) for wait in waits.split(","))
                final_runs.append(float(ran))
                final_batches.append(int(count))
            else:
                partial_calls += 1
                partial_ms += float(ran)
        elif (match := _TTS_LANES_LINE.search(line)) or (match := _TTS_LINE.search(line)):
            waits, runs = tts_jobs["lanes" if "lanes" in match.group(0) else "worker"]
            waits.append(float(match.group(1)))
            runs.append(float(match.group(2)))
    tts_waits, tts_runs = tts_jobs["lanes"] if tts_jobs["lanes"][0] else tts_jobs["worker"]
    return {
        "stages_ms": {name: _percentiles(values) for name, values in stages.items()},
        "final_wait_ms": _percentiles(final_waits),
        "final_call_ms": _percentiles(final_runs),
        "final_batch_mean": round(float(np.mean(final_batches)), 2) if final_batches else None,
        "partial_calls": partial_calls,
        "partial_share": round(partial_ms / 1000.0 / seconds, 3) if seconds else None,
        "tts_wait_ms": _percentiles(tts_waits),
        "tts_call_ms": _percentiles(tts_runs),
    }


def _client_figures(turns: Sequence[TurnResult]) -> dict[str, Any]:
    first = [t.client_ms["first_audio"] for t in turns if "first_audio" in t.client_ms]
    wers = [t.wer for t in turns if t.wer is not None]
    return {
        "turns": len(turns),
        "failed": sum(1 for t in turns if t.error),
        "first_audio_ms": _percentiles(first),
        "wer": round(float(np.mean(wers)), 3) if wers else None,
    }


async def _level(
    server: tuple[Path, GatewayAddress], count: int, turns: int, clips: Sequence[SpeechClip]
) -> dict[str, Any]:
    """One level of ``count`` WebSocket callers against ``server`` (its log and address)."""
    log_path, address = server
    config = BenchConfig(clients=(count,), turns=turns, transports=("websocket",))
    offset = log_path.stat().st_size
    load = os.getloadavg()[0]
    started = asyncio.get_running_loop().time()
    results = await run_levels(config, [address], clips)
    seconds = asyncio.get_running_loop().time() - started
    with log_path.open("rb") as log:
        log.seek(offset)
        part = log.read().decode(errors="replace")
    return {
        "clients": count,
        "load_average_1m": round(load, 2),
        "seconds": round(seconds, 1),
        **_client_figures(results),
        **parse_log(part, seconds),
    }


async def measure(
    settings: dict[str, list[str]],
    clients: Sequence[int],
    rounds: int,
    turns: int,
    pythons: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Every level: each setting's N callers, alternating, ``rounds`` times; a setting
    named in ``pythons`` runs its server with that Python."""
    pythons = pythons or {}
    load_before = os.getloadavg()
    os.environ[LOG_LEVEL_ENV] = "debug"
    levels: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="voicegate-turn-stages-") as scratch:
        clips = await piper_clips(Path(scratch) / "speech")
        async with contextlib.AsyncExitStack() as stack:
            servers = {}
            for index, (name, args) in enumerate(settings.items()):
                log_path = Path(scratch) / f"serve-{index}.log"
                python = pythons.get(name, sys.executable)
                process = GatewayProcess(log_path, args=args, python=python)
                servers[name] = (log_path, await stack.enter_async_context(process))
            names = list(settings)
            flip = False
            for count in clients:
                for round_index in range(rounds):
                    for name in names[::-1] if flip else names:
                        level = await _level(servers[name], count, turns, clips)
                        level.update(setting=name, round=round_index)
                        levels.append(level)
                        print(_row(level), flush=True)
                    flip = not flip
    return {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": {"start": list(load_before), "end": list(os.getloadavg())},
        },
        "settings": {name: shlex.join(args) for name, args in settings.items()},
        "pythons": pythons,
        "turns_per_caller": turns,
        "levels": levels,
    }


def _row(level: dict[str, Any]) -> str:
    def pair(figures: dict[str, Any]) -> str:
        return f"{figures['p50']} / {figures['p95']}"

    stages = level["stages_ms"]
    return (
        f"| {level['setting']} | {level['clients']} | {level['load_average_1m']} "
        f"| {level['failed']}/{level['turns']} | {pair(level['first_audio_ms'])} "
        f"| {pair(stages['stt'])} | {pair(level['final_wait_ms'])} "
        f"| {pair(level['final_call_ms'])} | {level['partial_share']} "
        f"| {pair(stages['room'])} | {pair(stages['tts'])} | {pair(level['tts_wait_ms'])} "
        f"| {pair(level['tts_call_ms'])} |"
    )


HEADER = (
    "| setting | N | load | failed | first audio p50 / p95 | stt | final wait | final call "
    "| partials' share | room | tts | tts wait | tts call |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def plot(document: dict[str, Any], path: Path) -> None:
    """First answer audio p50 and p95 per N, one pair of bars per setting and round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = document["levels"]
    names = list(document["settings"])
    counts = sorted({level["clients"] for level in levels})
    figure, axes = plt.subplots(1, len(counts), figsize=(4.5 * len(counts), 4.5), squeeze=False)
    for axis, count in zip(axes[0], counts, strict=True):
        rows = [level for level in levels if level["clients"] == count]
        labels = [
            f"{textwrap.fill(row['setting'], 16)}\nround {row['round'] + 1}, load "
            f"{row['load_average_1m']:.0f}\n{row['failed']} of {row['turns']} failed"
            for row in rows
        ]
        p50 = [row["first_audio_ms"]["p50"] or 0 for row in rows]
        p95 = [row["first_audio_ms"]["p95"] or 0 for row in rows]
        x = np.arange(len(rows))
        colours = [f"C{names.index(row['setting'])}" for row in rows]
        axis.bar(x - 0.2, p50, 0.4, color=colours, alpha=0.5, label="p50 (light)")
        axis.bar(x + 0.2, p95, 0.4, color=colours, label="p95 (dark)")
        axis.axhline(1000, color="grey", linestyle="--", linewidth=1, label="1 s goal")
        axis.set_xticks(x, labels, fontsize=7)
        axis.set_title(f"N = {count} WebSocket callers")
        axis.set_ylabel("first answer audio after speech (ms)")
    axes[0][0].legend(fontsize=8)
    load = document["machine"]["load_average"]
    figure.suptitle(
        f"voicegate turn latency by setting ({document['machine']['cpus']} CPUs, "
        f"load average {load['start'][0]:.1f} at the start, {load['end'][0]:.1f} at the end)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _setting(text: str) -> tuple[str, list[str]]:
    name, _, args = text.partition("=")
    if not name or "=" not in text:
        raise argparse.ArgumentTypeError(f"expected NAME=SERVE ARGS (maybe none), got {text!r}")
    return name, shlex.split(args)


def _named_python(text: str) -> tuple[str, str]:
    name, _, python = text.partition("=")
    if not name or not python:
        raise argparse.ArgumentTypeError(f"expected NAME=PYTHON, got {text!r}")
    return name, python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,8,16", help="caller counts (default 1,8,16)")
    parser.add_argument("--rounds", type=int, default=1, help="levels per setting and N")
    parser.add_argument("--turns", type=int, default=3, help="turns per caller (default 3)")
    parser.add_argument(
        "--setting",
        type=_setting,
        action="append",
        required=True,
        help="NAME=ARGS of 'voicegate serve' (give two or more)",
    )
    parser.add_argument(
        "--python",
        type=_named_python,
        action="append",
        default=[],
        help="NAME=PYTHON: run setting NAME's server with this Python (another checkout's)",
    )
    parser.add_argument("--name", default="turn_stages", help="result file name")
    args = parser.parse_args()
    clients = [int(count) for count in args.clients.split(",")]
    pythons = dict(args.python)
    document = asyncio.run(measure(dict(args.setting), clients, args.rounds, args.turns, pythons))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(document, indent=2) + "\n")
    print(HEADER)
    for level in document["levels"]:
        print(_row(level))
    plot(document, RESULTS / f"{args.name}.png")


if __name__ == "__main__":
    main()

"""Talkers held by one `voicegate serve` process against three on the same machine, one run.

Both setups share rooms through PostgreSQL and Redis (as a multi-process deployment runs),
each caller in its own room. For each number of callers N, ``voicegate bench`` runs N
WebSocket callers at once (the three processes take them in turn), each speaking
``--turns`` sentences in real time; the figure is the p95 of the first answer audio,
measured from the end of the caller's speech. Talkers held: the largest N with that p95
at most 1 s and no failed turn.

    python benchmarks/cluster_talkers.py --postgres-dsn postgresql://... --redis-url redis://...
        [--clients 1,2,4,6] [--turns 3]

Writes ``benchmarks/results/cluster_talkers.json`` and ``cluster_talkers.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from voicegate.bench.runner import BenchConfig, run_benchmark
from voicegate.server.app import READY_LINE

RESULTS = Path(__file__).resolve().parent / "results"
GOAL_MS = 1000.0
START_TIMEOUT_S = 300.0


@asynccontextmanager
async def _serving(args: list[str], log: Path) -> Any:
    """One `voicegate serve` process; yields its page URL."""
    command = [sys.executable, "-m", "voicegate", "serve", "--port", "0", "--anonymous", *args]
    with log.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=errors
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
        if not line.decode().startswith(READY_LINE):
            raise RuntimeError(f"voicegate serve did not start; its log: {log}")
        yield line.decode()[len(READY_LINE) :].strip()
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), 60)


async def _held(processes: int, options: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    shared = ["--store", "postgres", "--postgres-url", options.postgres_dsn]
    shared += ["--redis-url", options.redis_url]
    async with AsyncExitStack() as stack:
        urls = [
            await stack.enter_async_context(_serving(shared, scratch / f"serve-{n}.log"))
            for n in range(processes)
        ]
        config = BenchConfig(
            clients=options.clients,
            turns=options.turns,
            transports=("websocket",),
            out=scratch / f"bench-{processes}",
            urls=tuple(urls),
        )
        document = await run_benchmark(config)
    levels = []
    for row in document["summary"]:
        first_audio = row["stages_ms"].get("client_first_audio", {})
        levels.append(
            {
                "clients": row["clients"],
                "failed": row["failed"],
                "first_audio_p50_ms": first_audio.get("p50"),
                "first_audio_p95_ms": first_audio.get("p95"),
            }
        )
    within = [
        level["clients"]
        for level in levels
        if not level["failed"] and (level["first_audio_p95_ms"] or 1e9) <= GOAL_MS
    ]
    return {"processes": processes, "levels": levels, "talkers_held": max(within, default=0)}


def _plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for setup in results["setups"]:
        levels = [level for level in setup["levels"] if level["first_audio_p95_ms"] is not None]
        axis.plot(
            [level["clients"] for level in levels],
            [level["first_audio_p95_ms"] for level in levels],
            marker="o",
            label=f"{setup['processes']} process(es): {setup['talkers_held']} talkers held",
        )
    axis.axhline(GOAL_MS, color="grey", linestyle="--", label="goal: p95 <= 1 s")
    axis.set_xlabel("concurrent callers")
    axis.set_ylabel("first answer audio p95 (ms)")
    load = results["machine"]["load_average"]
    axis.set_title(
        f"{results['machine']['cpus']} CPUs, load average {load[0]:.0f} at the end", fontsize=9
    )
    axis.legend()
    figure.tight_layout()
    figure.savefig(RESULTS / "cluster_talkers.png", dpi=120)


async def main(options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="voicegate-talkers-") as folder:
        load_before = os.getloadavg()
        setups = [await _held(processes, options, Path(folder)) for processes in (1, 3)]
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average": os.getloadavg(),
        },
        "turns": options.turns,
        "setups": setups,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster_talkers.json").write_text(json.dumps(results, indent=2) + "\n")
    _plot(results)
    print(json.dumps(results, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-dsn", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument(
        "--clients",
        type=lambda text: tuple(int(part) for part in text.split(",")),
        default=(1, 2, 4, 6),
    )
    parser.add_argument("--turns", type=int, default=3)
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_arguments()))

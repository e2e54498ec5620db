"""Several processes sharing rooms through PostgreSQL and Redis, side by side in one run.

1. Cross-process delivery: a sender process commits events one at a time (a pause of
   ``--gap-ms`` between them) into a room that a receiver process follows; the receiver
   notes when each reaches its attached transport (``time.monotonic``, one clock for
   every process on a machine). Latency from the end of the sender's ``send_event``
   (committed and delivered locally) to the delivery in the receiver: p50, p95, max.
2. ``send_event`` throughput on PostgreSQL with 1 and 3 writer processes (each its own
   RoomKit with FanoutStore and Redis locks, as ``voicegate serve`` runs them) into 1 and
   100 rooms; one sequential sender per room per process, every room followed by a
   transport in every process. The reference: one process on PostgreSQL alone
   (in-process locks, no fan-out). RoomKit 0.109 has no PostgreSQL store: no RoomKit.

    python benchmarks/cluster.py --postgres-dsn postgresql://... --redis-url redis://...

Each case gets a fresh database schema by using its own rooms. Writes
``benchmarks/results/cluster.json`` and ``cluster.png``.

``--compare REF`` measures the throughput cases only, for voicegate as of git ``REF``
("before", its ``voicegate`` package extracted to a temporary folder) and as checked out
("after"), alternating before/after case by case, ``--repeat`` times each, so both
share the machine's load; writes ``cluster_compare.json`` and ``cluster_compare.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


async def _kit(dsn: str, redis_url: str | None) -> Any:
    """A kit as ``voicegate serve`` runs it on PostgreSQL and Redis (alone on PostgreSQL,
    with in-process locks, when ``redis_url`` is None)."""
    from voicegate import RoomKit
    from voicegate.redis import RedisLockManager
    from voicegate.redis.fanout import FanoutStore
    from voicegate.store.postgres import PostgresStore

    if redis_url is None:
        alone = RoomKit(store=PostgresStore(dsn))
        await alone.__aenter__()
        return alone
    store = FanoutStore(PostgresStore(dsn), redis_url)
    kit = RoomKit(store=store, lock_manager=RedisLockManager(redis_url))
    await kit.__aenter__()
    await store.start(kit)
    return kit


class _Stamps:
    """A transport that notes when each event reaches it."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.done = asyncio.Event()
        self.expected = 0


def _recorder(channel_id: str, stamps: _Stamps) -> Any:
    from voicegate.core.channels import Channel
    from voicegate.core.models import ChannelType, RoomContext, RoomEvent

    class Recorder(Channel):
        channel_type = ChannelType.WEBSOCKET

        async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
            stamps.at[event.id] = time.monotonic()
            if len(stamps.at) >= stamps.expected:
                stamps.done.set()

    return Recorder(channel_id)


async def _worker(role: str, dsn: str, redis_url: str, rooms: list[str], count: int) -> None:
    """One process of a case: ``receive``, ``write`` or ``write-alone`` (PostgreSQL only);
    prints JSON on its last line."""
    from voicegate import TextContent

    kit = await _kit(dsn, None if role == "write-alone" else redis_url)
    me = uuid.uuid4().hex[:8]
    stamps = _Stamps()
    for room_id in rooms:
        kit.register_channel(_recorder(f"ws-{me}-{room_id}", stamps))
        kit.register_channel(_recorder(f"src-{me}-{room_id}", _Stamps()))
        await kit.attach_channel(room_id, f"ws-{me}-{room_id}")
        await kit.attach_channel(room_id, f"src-{me}-{room_id}")
    stamps.expected = int(sys.stdin.readline()) if role == "receive" else 0
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("expected 'go'")
    if role == "receive":
        await asyncio.wait_for(stamps.done.wait(), 600)
        print(json.dumps(stamps.at), flush=True)
    else:
        from voicegate.errors import ProcessTimeoutError

        timeouts = 0

        async def send(room_id: str) -> None:
            nonlocal timeouts
            for i in range(count):
                try:
                    await kit.send_event(room_id, f"src-{me}-{room_id}", TextContent(f"{me} {i}"))
                except ProcessTimeoutError:  # counted; the others go on
                    timeouts += 1

        began = time.monotonic()
        await asyncio.gather(*(send(room_id) for room_id in rooms))
        span = {"began": began, "ended": time.monotonic(), "timeouts": timeouts}
        print(json.dumps(span), flush=True)
    await kit.close()


async def _spawn(
    role: str, args: argparse.Namespace, rooms: list[str], count: int, source: Path = ROOT
) -> Any:
    """A worker process running this script with the ``voicegate`` package of ``source``."""
    env = {**os.environ, "PYTHONPATH": str(source)}
    command = [sys.executable, __file__, "--worker", role, "--postgres-dsn", args.postgres_dsn]
    command += ["--redis-url", args.redis_url, "--events", str(count), "--rooms", ",".join(rooms)]
    return await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env
    )


async def _ready(process: Any, line: bytes = b"") -> None:
    if line:
        process.stdin.write(line)
        await process.stdin.drain()
    assert (await process.stdout.readline()).strip() == b"ready"


async def _go(processes: list[Any]) -> list[Any]:
    for process in processes:
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    outputs = [await process.stdout.readline() for process in processes]
    for process in processes:
        await process.wait()
    return [json.loads(line) for line in outputs]


async def _create_rooms(dsn: str, rooms: list[str]) -> None:
    from voicegate.core.models import Room
    from voicegate.store.postgres import PostgresStore

    store = PostgresStore(dsn)
    for room_id in rooms:
        await store.create_room(Room(id=room_id))
    await store.close()


async def delivery_latency(args: argparse.Namespace) -> dict[str, Any]:
    """Commit in the sender, delivery in the receiver, one event at a time."""
    room = [f"latency-{uuid.uuid4().hex[:8]}"]
    await _create_rooms(args.postgres_dsn, room)
    receiver = await _spawn("receive", args, room, 0)
    await _ready(receiver, f"{args.latency_events}\n".encode())
    from voicegate import TextContent

    kit = await _kit(args.postgres_dsn, args.redis_url)
    kit.register_channel(_recorder("sender", _Stamps()))
    await kit.attach_channel(room[0], "sender")
    committed: dict[str, float] = {}
    receiver.stdin.write(b"go\n")
    await receiver.stdin.drain()
    for i in range(args.latency_events):
        event = await kit.send_event(room[0], "sender", TextContent(f"ping {i}"))
        committed[event.id] = time.monotonic()
        await asyncio.sleep(args.gap_ms / 1000)
    delivered = json.loads(await receiver.stdout.readline())
    await receiver.wait()
    await kit.close()
    latencies = sorted((delivered[i] - committed[i]) * 1000 for i in committed)
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "events": len(latencies),
        "p50_ms": round(quantiles[49], 3),
        "p95_ms": round(quantiles[94], 3),
        "max_ms": round(latencies[-1], 3),
    }


async def throughput(
    args: argparse.Namespace, processes: int, rooms: int, role: str = "write", source: Path = ROOT
) -> dict[str, Any]:
    """Events per second committed by ``processes`` writers into ``rooms`` rooms (a
    ``send_event`` that ran past ``process_timeout`` is counted apart, not as committed)."""
    names = [f"t{processes}-{rooms}-{uuid.uuid4().hex[:6]}-{n}" for n in range(rooms)]
    await _create_rooms(args.postgres_dsn, names)
    per_process = max(1, args.events // (processes * rooms))
    writers = [await _spawn(role, args, names, per_process, source) for _ in range(processes)]
    for writer in writers:
        await _ready(writer)
    spans = await _go(writers)
    wall = max(s["ended"] for s in spans) - min(s["began"] for s in spans)
    timeouts = sum(s["timeouts"] for s in spans)
    total = per_process * processes * rooms - timeouts
    return {
        "setup": "PostgreSQL alone" if role == "write-alone" else "PostgreSQL + Redis",
        "processes": processes,
        "rooms": rooms,
        "events": total,
        "events_per_s": round(total / wall),
        "process_timeouts": timeouts,
    }


def _plot(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = results["throughput"]
    labels = [f"{c['setup']}: {c['processes']} proc, {c['rooms']} room(s)" for c in cases]
    figure, axis = plt.subplots(figsize=(9, 3.8))
    axis.barh(labels, [c["events_per_s"] for c in cases], color="#4a7")
    for y, case in enumerate(cases):
        axis.text(case["events_per_s"], y, f" {case['events_per_s']:,}", va="center")
    latency = results["latency"]
    load = results["machine"]["load_average"][0]
    axis.set_title(
        f"send_event on PostgreSQL; cross-process delivery p50 {latency['p50_ms']} ms, "
        f"p95 {latency['p95_ms']} ms ({results['machine']['cpus']} CPUs, load average {load:.0f})",
        fontsize=9,
    )
    axis.set_xlabel("events/s (all processes together)")
    figure.tight_layout()
    figure.savefig(RESULTS / "cluster.png", dpi=120)


CASES = (
    ("write-alone", 1, 1),
    ("write-alone", 1, 100),
    ("write", 1, 1),
    ("write", 1, 100),
    ("write", 3, 1),
    ("write", 3, 100),
)
"""(role, processes, rooms) of each throughput case."""


async def main(args: argparse.Namespace) -> None:
    print("cross-process delivery ...", flush=True)
    latency = await delivery_latency(args)
    print(json.dumps(latency), flush=True)
    cases = []
    for role, processes, rooms in CASES:
        print(f"throughput: {role}, {processes} process(es), {rooms} room(s) ...", flush=True)
        cases.append(await throughput(args, processes, rooms, role))
        print(json.dumps(cases[-1]), flush=True)
    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "latency": latency,
        "throughput": cases,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(results, indent=2) + "\n")
    _plot(results)


def _extract(ref: str, into: Path) -> str:
    """Put ``ref``'s ``voicegate`` package under ``into``; returns its short commit id."""
    git = ["git", "-C", str(ROOT)]
    archive = subprocess.run([*git, "archive", ref, "voicegate"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    commit = subprocess.run([*git, "rev-parse", "--short", ref], check=True, capture_output=True)
    return commit.stdout.decode().strip()


async def compare(args: argparse.Namespace) -> None:
    """The throughput cases before (``args.compare``) and after, alternating."""
    runs: dict[str, dict[str, list[int]]] = {}
    failed: dict[str, dict[str, list[int]]] = {}  # send_event calls past process_timeout
    with tempfile.TemporaryDirectory() as before:
        commit = await asyncio.to_thread(_extract, args.compare, Path(before))
        for attempt in range(args.repeat):
            for role, processes, rooms in CASES:
                for code, source in ((f"before ({commit})", Path(before)), ("after", ROOT)):
                    case = await throughput(args, processes, rooms, role, source)
                    label = f"{case['setup']}: {processes} proc, {rooms} room(s)"
                    runs.setdefault(label, {}).setdefault(code, []).append(case["events_per_s"])
                    timeouts = case["process_timeouts"]
                    print(
                        f"[{attempt + 1}/{args.repeat}] {label}, {code}: {case['events_per_s']}"
                        + (f" ({timeouts} send_event past process_timeout)" if timeouts else "")
                    )
                    if timeouts:
                        failed.setdefault(label, {}).setdefault(code, []).append(timeouts)
    results = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "events_per_case": args.events,
        "events_per_s": runs,
        "process_timeouts": failed,
        "median": {
            label: {code: statistics.median(values) for code, values in codes.items()}
            for label, codes in runs.items()
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cluster_compare.json").write_text(json.dumps(results, indent=2) + "\n")
    _plot_compare(results)


def _plot_compare(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    medians = results["median"]
    labels = list(medians)
    codes = list(next(iter(medians.values())))
    figure, axis = plt.subplots(figsize=(9, 4.2))
    height = 0.8 / len(codes)
    for n, code in enumerate(codes):
        values = [medians[label][code] for label in labels]
        ys = [y + n * height for y in range(len(labels))]
        axis.barh(ys, values, height, label=code)
        for y, value in zip(ys, values, strict=True):
            axis.text(value, y, f" {value:,.0f}", va="center", fontsize=8)
    axis.set_yticks([y + height / 2 for y in range(len(labels))], labels, fontsize=8)
    axis.invert_yaxis()
    load = results["machine"]["load_average"][0]
    axis.set_title(
        f"send_event on PostgreSQL, median events/s ({results['machine']['cpus']} CPUs, "
        f"load average {load:.0f} at the end)",
        fontsize=9,
    )
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / "cluster_compare.png", dpi=120)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-dsn", required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--events", type=int, default=3000, help="events per throughput case")
    parser.add_argument("--latency-events", type=int, default=1000)
    parser.add_argument("--gap-ms", type=float, default=2.0)
    parser.add_argument("--compare", metavar="REF", help="throughput before (git REF) and after")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (--compare)")
    roles = ("receive", "write", "write-alone")
    parser.add_argument("--worker", choices=roles, help=argparse.SUPPRESS)
    parser.add_argument("--rooms", default="", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    if arguments.worker:
        rooms = arguments.rooms.split(",")
        asyncio.run(
            _worker(
                arguments.worker,
                arguments.postgres_dsn,
                arguments.redis_url,
                rooms,
                arguments.events,
            )
        )
    else:
        asyncio.run(compare(arguments) if arguments.compare else main(arguments))

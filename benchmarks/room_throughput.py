"""send_event throughput through the room engine: voicegate against RoomKit 0.109, one run.

Every case runs in a fresh process doing the SAME code on both libraries (their
APIs are the same): a source channel and a ``WebSocketChannel`` attached to each
room, one connection per room registered with ``kit.connect_websocket`` whose
``send_fn`` appends the event to a list, then ``send_event`` from the source in
every room at once (one sequential sender per room). Cases: 1 room and 100
rooms; voicegate on ``InMemoryStore``, ``SQLiteStore`` and, when
``--postgres-dsn`` names a database, ``PostgresStore`` (a network round trip per
write); RoomKit on its in-memory store. RoomKit needs Python >= 3.12: it runs in the venv
``benchmarks/.rk312`` (created with ``python3.12 -m venv`` and
``pip install roomkit==0.109.*`` when missing) or the one ``--roomkit-python`` names.

    python benchmarks/room_throughput.py [--events 4000] [--roomkit-python PATH]
        [--postgres-dsn postgresql://user@host:port/database]

Writes ``benchmarks/results/room_throughput.json`` and ``room_throughput.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
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
RK_VENV = HERE / ".rk312"
RK_REQUIREMENT = "roomkit==0.109.*"
WARMUP_EVENTS = 200
CASES = [  # (library, store, rooms)
    ("voicegate", "memory", 1),
    ("voicegate", "memory", 100),
    ("voicegate", "sqlite", 1),
    ("voicegate", "sqlite", 100),
    ("voicegate", "postgres", 1),
    ("voicegate", "postgres", 100),
    ("roomkit", "memory", 1),
    ("roomkit", "memory", 100),
]


# ---- one case, run in its own process (Python 3.11 for voicegate, 3.12 for RoomKit) ----


def _make_kit(library: str, store: str, database: str) -> tuple[Any, Any, Any]:
    """(kit, WebSocketChannel class, TextContent class) of ``library``.

    ``database`` is the SQLite file or the PostgreSQL DSN.
    """
    if library == "roomkit":
        from roomkit import RoomKit, TextContent, WebSocketChannel

        return RoomKit(), WebSocketChannel, TextContent
    from voicegate import InMemoryStore, RoomKit, SQLiteStore, TextContent, WebSocketChannel

    if store == "postgres":
        from voicegate.store.postgres import PostgresStore

        return RoomKit(store=PostgresStore(database)), WebSocketChannel, TextContent
    chosen = SQLiteStore(database) if store == "sqlite" else InMemoryStore()
    return RoomKit(store=chosen), WebSocketChannel, TextContent


async def _measure(library: str, store: str, rooms: int, events: int, database: str) -> float:
    kit, websocket_channel, text_content = _make_kit(library, store, database)
    kit.register_channel(websocket_channel("source"))
    kit.register_channel(websocket_channel("ws"))
    delivered: list[Any] = []

    async def send_fn(connection_id: str, event: Any) -> None:
        delivered.append(event)

    run = uuid.uuid4().hex[:8]  # a shared database may hold earlier runs' rooms
    room_ids = [f"room-{run}-{i}" for i in range(rooms)]
    for room_id in room_ids:
        await kit.create_room(room_id=room_id)
        await kit.attach_channel(room_id, "source")
        await kit.attach_channel(room_id, "ws")
        await kit.connect_websocket("ws", f"conn-{room_id}", send_fn, room_id=room_id)

    async def sender(room_id: str, count: int) -> None:
        for i in range(count):
            await kit.send_event(room_id, "source", text_content(body=f"message {i}"))

    await asyncio.gather(*(sender(r, max(1, WARMUP_EVENTS // rooms)) for r in room_ids))
    delivered.clear()
    per_room = events // rooms
    started = time.perf_counter()
    await asyncio.gather(*(sender(r, per_room) for r in room_ids))
    elapsed = time.perf_counter() - started
    await kit.close()
    if len(delivered) != per_room * rooms:
        raise RuntimeError(f"{len(delivered)} deliveries for {per_room * rooms} events")
    return per_room * rooms / elapsed


def run_case(library: str, store: str, rooms: int, events: int, postgres_dsn: str | None) -> None:
    """Measure one case and print ``{"events_per_s": ...}`` on stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        database = (
            postgres_dsn if store == "postgres" and postgres_dsn else os.path.join(tmp, "bench.db")
        )
        rate = asyncio.run(_measure(library, store, rooms, events, database))
    print(json.dumps({"events_per_s": rate}))


# ---- the driver ----


def find_python312() -> str | None:
    """A working Python >= 3.12: on PATH, or installed by pyenv (whose shims may not work)."""
    on_path = [shutil.which(name) for name in ("python3.12", "python3.13")]
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"))
    for candidate in [*filter(None, on_path), *map(str, pyenv)]:
        check = [candidate, "-c", "import sys; assert sys.version_info >= (3, 12)"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def find_roomkit_python(explicit: str | None) -> str | None:
    """A Python with RoomKit 0.109: the one given, or ``benchmarks/.rk312`` (made if missing)."""
    if explicit:
        return explicit
    python = RK_VENV / "bin" / "python"
    if python.exists():
        return str(python)
    base = find_python312()
    if base is None:
        print("RoomKit skipped: no working Python >= 3.12 found", file=sys.stderr)
        return None
    print(f"creating {RK_VENV} with {RK_REQUIREMENT} ...", file=sys.stderr)
    try:
        subprocess.run([base, "-m", "venv", str(RK_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", RK_REQUIREMENT], check=True, timeout=900
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"RoomKit skipped: could not install {RK_REQUIREMENT} ({exc})", file=sys.stderr)
        shutil.rmtree(RK_VENV, ignore_errors=True)
        return None
    return str(python)


def measure_case(
    python: str, case: tuple[str, str, int], events: int, postgres_dsn: str | None
) -> float:
    library, store, rooms = case
    command = [python, __file__, "--case", library, store, str(rooms), "--events", str(events)]
    if postgres_dsn:
        command += ["--postgres-dsn", postgres_dsn]
    env = {**os.environ, "PYTHONPATH": str(ROOT)} if library == "voicegate" else None
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{library}/{store}/{rooms} rooms failed:\n{done.stderr}")
    rate: float = json.loads(done.stdout.strip().splitlines()[-1])["events_per_s"]
    return rate


def draw_chart(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [
        f"{r['library']}\n{r['store']}, {r['rooms']} room{'s' * (r['rooms'] > 1)}" for r in rows
    ]
    colours = ["tab:blue" if r["library"] == "voicegate" else "tab:gray" for r in rows]
    figure, axes = plt.subplots(figsize=(10, 4.5))
    bars = axes.bar(labels, [r["events_per_s"] for r in rows], color=colours)
    axes.bar_label(bars, fmt="%.0f")
    axes.set_ylabel("send_event / s (higher is better)")
    axes.set_title("Room engine throughput, one WebSocket delivery per event")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="events measured per case")
    parser.add_argument("--roomkit-python", help="a Python with roomkit 0.109 installed")
    parser.add_argument(
        "--postgres-dsn", help="a PostgreSQL database for the PostgresStore cases (else skipped)"
    )
    parser.add_argument(
        "--case", nargs=3, metavar=("LIBRARY", "STORE", "ROOMS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.case:
        run_case(args.case[0], args.case[1], int(args.case[2]), args.events, args.postgres_dsn)
        return

    roomkit_python = find_roomkit_python(args.roomkit_python)
    if not args.postgres_dsn:
        print("PostgresStore skipped: no --postgres-dsn given", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    for number, case in enumerate(CASES, 1):
        library, store, rooms = case
        if (library == "roomkit" and roomkit_python is None) or (
            store == "postgres" and not args.postgres_dsn
        ):
            continue
        python = sys.executable if library == "voicegate" else str(roomkit_python)
        print(f"[{number}/{len(CASES)}] {library} {store} {rooms} room(s) ...", end=" ", flush=True)
        rate = measure_case(python, case, args.events, args.postgres_dsn)
        print(f"{rate:,.0f} events/s", flush=True)
        rows.append({"library": library, "store": store, "rooms": rooms, "events_per_s": rate})

    baseline = {r["rooms"]: r["events_per_s"] for r in rows if r["library"] == "roomkit"}
    print(f"\n{'library':<10} {'store':<8} {'rooms':>5} {'events/s':>10} {'x RoomKit':>10}")
    for row in rows:
        ratio = row["events_per_s"] / baseline[row["rooms"]] if row["rooms"] in baseline else None
        row["ratio_to_roomkit_memory"] = ratio
        shown = "-" if ratio is None else f"{ratio:.1f}x"
        print(
            f"{row['library']:<10} {row['store']:<8} {row['rooms']:>5}"
            f" {row['events_per_s']:>10,.0f} {shown:>10}"
        )

    RESULTS.mkdir(exist_ok=True)
    report = {
        "benchmark": "room_throughput",
        "events_per_case": args.events,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "python": platform.python_version(),
        "roomkit": RK_REQUIREMENT if baseline else None,
        "results": rows,
    }
    (RESULTS / "room_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    draw_chart(rows, RESULTS / "room_throughput.png")
    print(f"\nwrote {RESULTS / 'room_throughput.json'} and room_throughput.png")


if __name__ == "__main__":
    main()

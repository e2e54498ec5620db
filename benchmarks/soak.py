"""Soak: N callers talking turn after turn for M minutes against ``voicegate serve`` on the
real models (Whisper, Piper, the SQLite store), with ``max_sessions`` set to N.

Every caller plays Piper sentences in real time over the WebSocket, waits for its turn to
come back (final transcript, answer audio, ``tts_end``), pauses 0.5-2 s and speaks again.
Reported: turns spoken, turns received (a final transcript with its event id within 60 s),
turns stored (those event ids found in the SQLite file once the server stopped), the
transcripts in the callers' rooms (a turn answered too late for its caller counts here), the
server's RSS at the start, after the warm-up and at the end, and the first-audio p50/p95
(end of speech to the first answer audio at the caller). Extra callers try to join once the warm-up
is over and again near the end: over capacity, each must be refused with close code 1013.
Progress is printed every ``--every`` seconds.

    python benchmarks/soak.py [--callers 8] [--minutes 30] [--warm-up 300] [--extra 2]

Writes ``benchmarks/results/soak.json`` and ``soak.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voicegate.bench.load import CallerLog, Turn, rss_mib, talk
from voicegate.bench.server import GatewayAddress, GatewayProcess
from voicegate.bench.speech import SAMPLE_RATE, piper_clips
from voicegate.bench.websocket_client import PING_TIMEOUT_S
from voicegate.store.sqlite import SQLiteStore

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
NAME = "soak"


async def _refusal_code(address: GatewayAddress) -> int | None:
    """Join as one more caller; the close code the server answers with (None: admitted)."""
    async with connect(address.websocket_url, ping_timeout=PING_TIMEOUT_S) as connection:
        await connection.send(json.dumps({"type": "hello", "sample_rate": SAMPLE_RATE}))
        try:
            async with asyncio.timeout(10.0):
                async for message in connection:
                    if isinstance(message, str) and json.loads(message)["type"] == "ready":
                        return None
        except ConnectionClosed:
            pass
        return connection.close_code


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _first_audio(turns: list[Turn]) -> list[float]:
    return [t.first_audio_s for t in turns if t.first_audio_s is not None]


async def _stored(database: Path, event_ids: list[str], rooms: set[str]) -> tuple[int, int]:
    """How many of ``event_ids`` the store holds, and how many transcripts (events from a
    voice session) the callers' ``rooms`` hold, whether or not they reached their caller."""
    store = SQLiteStore(database)
    await store.open()
    try:
        found = sum([await store.get_event(event_id) is not None for event_id in event_ids])
        transcripts = 0
        for room_id in rooms:
            events = await store.list_events(room_id, limit=100_000)
            transcripts += sum(e.source.channel_id.startswith("voice:") for e in events)
        return found, transcripts
    finally:
        await store.close()


class Soak:
    """One soak run: the server, its callers, the probes and the samples."""

    def __init__(self, args: argparse.Namespace, scratch: Path) -> None:
        self.args = args
        self.scratch = scratch
        self.logs = [CallerLog() for _ in range(args.callers)]
        self.rss: list[tuple[float, float]] = []  # (seconds since start, MiB)
        self.probes: list[dict[str, Any]] = []
        self.loads: list[tuple[float, float]] = []  # (seconds, 1-minute load average)
        self.started = 0.0

    def _elapsed(self) -> float:
        return time.monotonic() - self.started

    def _sample(self, pid: int) -> float:
        mib = rss_mib(pid)
        self.rss.append((self._elapsed(), mib))
        self.loads.append((self._elapsed(), os.getloadavg()[0]))
        return mib

    def _progress(self) -> None:
        turns = [t for log in self.logs for t in log.turns]
        received = sum(bool(t.event_ids) for t in turns)
        p95 = _percentile(_first_audio(turns), 0.95)
        p95_text = f"{p95:.2f} s" if p95 is not None else "-"
        refused = sum(log.refused for log in self.logs)
        print(
            f"[{self._elapsed() / 60:5.1f} min] turns spoken {len(turns)}, received {received}, "
            f"first audio p95 {p95_text}, RSS {self.rss[-1][1]:.0f} MiB, "
            f"load {os.getloadavg()[0]:.2f}, callers refused {refused}",
            flush=True,
        )

    async def _probe(self, address: GatewayAddress, when: str) -> None:
        codes = await asyncio.gather(*(_refusal_code(address) for _ in range(self.args.extra)))
        self.probes.append({"at_s": round(self._elapsed(), 1), "when": when, "codes": codes})
        print(f"[{self._elapsed() / 60:5.1f} min] {len(codes)} extra callers: {codes}", flush=True)

    async def _watch(self, pid: int, address: GatewayAddress, until: float) -> float:
        """Sample RSS, print progress, probe capacity; returns the RSS after the warm-up."""
        warm_rss: float | None = None
        end_probe_done = False
        while time.monotonic() < until:
            await asyncio.sleep(min(self.args.every, max(0.0, until - time.monotonic())))
            self._sample(pid)
            if warm_rss is None and self._elapsed() >= self.args.warm_up:
                warm_rss = self.rss[-1][1]
                print(f"warm-up over: RSS {warm_rss:.0f} MiB", flush=True)
                await self._probe(address, "after warm-up")
            if not end_probe_done and until - time.monotonic() < 2 * self.args.every:
                end_probe_done = True
                await self._probe(address, "near the end")
            self._progress()
        return warm_rss if warm_rss is not None else self.rss[-1][1]

    async def run(self) -> dict[str, Any]:
        args = self.args
        clips = await piper_clips(self.scratch / "speech")
        data = self.scratch / "data"
        serve_args = ["--store", "sqlite", "--data-dir", str(data)]
        serve_args += ["--max-sessions", str(args.callers)]
        server = GatewayProcess(self.scratch / "serve.log", args=serve_args)
        async with server as address:
            self.started = time.monotonic()
            start_rss = self._sample(server.pid)
            until = self.started + args.minutes * 60
            print(f"server up, RSS {start_rss:.0f} MiB; {args.callers} callers", flush=True)
            callers = [
                talk(address, clips, until, log, seed=index) for index, log in enumerate(self.logs)
            ]
            watch = asyncio.create_task(self._watch(server.pid, address, until))
            await asyncio.gather(*callers)
            warm_rss = await watch
            end_rss = self._sample(server.pid)
        log_text = (self.scratch / "serve.log").read_text(errors="replace")
        turns = [t for log in self.logs for t in log.turns]
        event_ids = [event_id for t in turns for event_id in t.event_ids]
        rooms = {room for log in self.logs for room in log.sessions.values()}
        stored, transcripts = await _stored(data / "voicegate.sqlite3", event_ids, rooms)
        after_warm_up = [t for t in turns if t.spoken_at - self.started >= args.warm_up]
        first_audio = _first_audio(after_warm_up)
        return {
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": {
                    "min": min(v for _, v in self.loads),
                    "max": max(v for _, v in self.loads),
                    "mean": sum(v for _, v in self.loads) / len(self.loads),
                },
            },
            "config": {
                "callers": args.callers,
                "minutes": args.minutes,
                "warm_up_s": args.warm_up,
                "extra_callers": args.extra,
                "server": "voicegate serve --anonymous --store sqlite "
                f"--max-sessions {args.callers}",
            },
            "turns": {
                "spoken": len(turns),
                "received": sum(bool(t.event_ids) for t in turns),
                "answered": sum(t.first_audio_s is not None for t in turns),
                "events": len(event_ids),
                "stored": stored,
                "transcripts_in_store": transcripts,
            },
            "sessions": sum(len(log.sessions) for log in self.logs),
            "callers_refused": sum(log.refused for log in self.logs),
            "sessions_closed_by_server": [c for log in self.logs for c in log.closed],
            "over_capacity_probes": self.probes,
            "rss_mib": {
                "start": round(start_rss, 1),
                "after_warm_up": round(warm_rss, 1),
                "end": round(end_rss, 1),
                "growth_after_warm_up_pct": round(100 * (end_rss - warm_rss) / warm_rss, 2),
                "samples": [(round(t, 1), round(m, 1)) for t, m in self.rss],
            },
            "first_audio_s": {
                "turns": len(first_audio),
                "p50": _percentile(first_audio, 0.5),
                "p95": _percentile(first_audio, 0.95),
                "max": max(first_audio, default=None),
                "samples": [
                    (round(t.spoken_at - self.started, 1), round(t.first_audio_s, 3))
                    for t in turns
                    if t.first_audio_s is not None
                ],
            },
            "server_log": {
                "tracebacks": log_text.count("Traceback"),
                "never_retrieved": log_text.count("was never retrieved"),
            },
        }


def plot(path: Path, document: dict[str, Any]) -> None:
    """RSS over time, and every turn's first audio over time with its p95."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config, rss = document["config"], document["rss_mib"]
    figure, (memory, latency) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    minutes = [t / 60 for t, _ in rss["samples"]]
    memory.plot(minutes, [m for _, m in rss["samples"]], color="tab:blue")
    memory.axvline(config["warm_up_s"] / 60, color="grey", linestyle=":", label="end of warm-up")
    memory.set_ylabel("server RSS (MiB)")
    memory.set_title(
        f"voicegate soak: {config['callers']} callers, {config['minutes']:g} min, "
        f"{document['machine']['cpus']} CPUs; RSS +{rss['growth_after_warm_up_pct']:.1f}% "
        "after warm-up"
    )
    memory.legend(loc="lower right")
    samples = document["first_audio_s"]["samples"]
    latency.scatter([t / 60 for t, _ in samples], [s for _, s in samples], s=6, alpha=0.5)
    p95 = document["first_audio_s"]["p95"]
    if p95 is not None:
        latency.axhline(p95, color="tab:red", linestyle="--", label=f"p95 {p95:.2f} s")
        latency.legend(loc="upper right")
    turns = document["turns"]
    latency.set_title(
        f"turns spoken {turns['spoken']}, received {turns['received']}, "
        f"stored {turns['stored']} of {turns['events']} events; "
        f"transcripts in the rooms {turns['transcripts_in_store']}"
    )
    latency.set_ylabel("first audio after speech (s)")
    latency.set_xlabel("minutes")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="voicegate-soak-") as scratch:
        document = await Soak(args, Path(scratch)).run()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{NAME}.json").write_text(json.dumps(document, indent=2) + "\n")
    plot(args.out / f"{NAME}.png", document)
    return document


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warm-up", type=float, default=300.0, help="seconds")
    parser.add_argument("--extra", type=int, default=2, help="over-capacity callers per probe")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    document = asyncio.run(_main(args))
    summary = {k: document[k] for k in ("turns", "first_audio_s", "over_capacity_probes")}
    summary["rss_mib"] = {k: v for k, v in document["rss_mib"].items() if k != "samples"}
    summary["first_audio_s"] = {
        k: v for k, v in document["first_audio_s"].items() if k != "samples"
    }
    print(json.dumps(summary, indent=2))
    turns = document["turns"]
    lost = max(0, turns["spoken"] - turns["transcripts_in_store"])
    return 0 if lost == 0 and turns["events"] == turns["stored"] else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())

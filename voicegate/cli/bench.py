"""``voicegate bench``: the end-to-end voice latency benchmark (see :mod:`voicegate.bench`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


def _counts(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers separated by commas, got {text!r}"
        ) from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_parser(subparsers: Any) -> None:
    """Register ``bench``."""
    parser = subparsers.add_parser(
        "bench",
        help="measure voice latency end to end with concurrent WebSocket, WebRTC, browser and "
        "phone callers",
        description=(
            "Start 'voicegate serve' (or use --url), connect N callers per transport (WebSocket, "
            "WebRTC with aiortc, the call page in headless Chromium over WebRTC, a Twilio Media "
            "Stream, a SIP call), speak "
            "TURNS Piper sentences each in real time, and report p50/p95 per stage: end of "
            "speech -> final transcript -> room event -> first answer audio, and the server's "
            "own stages. Writes voice_latency.json and voice_latency.png."
        ),
    )
    parser.add_argument(
        "--clients", type=_counts, default=(1, 2, 4, 8), help="concurrent callers (default 1,2,4,8)"
    )
    parser.add_argument("--turns", type=int, default=3, help="turns per caller (default 3)")
    parser.add_argument(
        "--transports",
        type=_names,
        default=None,
        help="among websocket, webrtc, browser, twilio, sip, separated by commas (default: all)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results"), help="where to write the results"
    )
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        help="the page URL of a running gateway, instead of starting 'voicegate serve'; "
        "repeat it for several processes of one gateway (callers take them in turn)",
    )
    parser.add_argument(
        "--sip-port", type=int, default=5060, help="the SIP port of the --url gateway (5060)"
    )
    parser.add_argument(
        "--browsers",
        type=int,
        default=None,
        help="the most browser callers at once; larger N are skipped (default: by the CPU "
        "count, at least 1: each is a headless Chromium, whose CPU the server would lose)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; exit code 2 on bad options, 1 if any turn failed."""
    from voicegate.bench.runner import BenchConfig, run_benchmark

    try:
        chosen: dict[str, Any] = {}
        if args.transports is not None:
            chosen["transports"] = args.transports
        if args.browsers is not None:
            chosen["browsers"] = args.browsers
        config = BenchConfig(
            clients=args.clients,
            turns=args.turns,
            **chosen,
            out=args.out,
            urls=tuple(args.url),
            sip_port=args.sip_port,
        )
    except ValueError as error:
        print(f"voicegate bench: {error}", file=sys.stderr)
        return 2
    document = asyncio.run(run_benchmark(config))
    failed = sum(row["failed"] for row in document["summary"])
    if failed:
        print(f"voicegate bench: {failed} turn(s) failed; see the JSON", file=sys.stderr)
        return 1
    return 0

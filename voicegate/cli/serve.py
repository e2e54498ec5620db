"""``voicegate serve``: run the gateway."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from voicegate.errors import RoomKitError
from voicegate.server.config import add_arguments, load_config


def add_parser(sub: Any) -> None:
    """Register ``serve``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the voice gateway (page, WebSocket, WebRTC, /healthz, /metrics)",
        description=(
            "Run the voice gateway on one port. Settings come from flags, then VOICEGATE_* "
            "environment variables, then a TOML file (--config), then the defaults shown."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; configuration, model and port problems exit 2 with one line,
    a shutdown that gave up on closing (logged) exits 1."""
    from voicegate.server.app import serve

    try:
        closed = asyncio.run(serve(load_config(args)))
    except RoomKitError as exc:
        print(f"voicegate serve: {exc}", file=sys.stderr)
        return 2
    return 0 if closed else 1

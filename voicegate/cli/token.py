"""``voicegate token``: mint a token that ``voicegate serve`` (and its call page) accepts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from voicegate.errors import RoomKitError
from voicegate.server.config import load_config
from voicegate.server.settings_table import ENV_PREFIX
from voicegate.server.token_secret import TOKEN_SECRET_ENV, load_token_secret
from voicegate.voice.tokens import TokenAuth


def add_parser(sub: Any) -> None:
    """Register ``token``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "token",
        help="mint a token for voicegate serve: a subject, the rooms it may join, a lifetime",
        description=(
            "Print a token signed with the secret voicegate serve uses: "
            f"{TOKEN_SECRET_ENV}, else --token-secret-file, else <data-dir>/token-secret "
            "(created if missing). The token may create new rooms and join them again; "
            "--room adds existing rooms it may join, --any-room every room."
        ),
    )
    parser.add_argument("subject", help="who the token is for (the session's participant id)")
    parser.add_argument(
        "--room",
        dest="rooms",
        action="append",
        default=[],
        metavar="ROOM_ID",
        help="an existing room the token may join (repeat for several)",
    )
    parser.add_argument(
        "--any-room", action="store_true", help="let the token join every room (an admin token)"
    )
    parser.add_argument(
        "--ttl", type=float, default=None, help="lifetime in seconds (default: token_ttl)"
    )
    parser.add_argument(
        "--config", type=Path, default=None, help=f"TOML file of settings (also {ENV_PREFIX}CONFIG)"
    )
    parser.add_argument(
        "--page-url",
        action="store_true",
        help="print the call page's address with the token (host and port as for serve)",
    )
    parser.add_argument("--host", default=None, help="as for serve (with --page-url)")
    parser.add_argument("--port", default=None, help="as for serve (with --page-url)")
    parser.add_argument("--data-dir", dest="data_dir", default=None, help="as for serve")
    parser.add_argument(
        "--token-secret-file", dest="token_secret_file", default=None, help="as for serve"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the token; configuration and secret problems exit 2 with one line."""
    if args.rooms and args.any_room:
        print("voicegate token: give --room or --any-room, not both", file=sys.stderr)
        return 2
    if args.ttl is not None and args.ttl <= 0:
        print("voicegate token: --ttl must be positive", file=sys.stderr)
        return 2
    try:
        config = load_config(args)
        tokens = TokenAuth(load_token_secret(config), ttl=config.token_ttl)
    except RoomKitError as exc:
        print(f"voicegate token: {exc}", file=sys.stderr)
        return 2
    token = tokens.issue(args.subject, ttl=args.ttl, rooms=args.rooms, any_room=args.any_room)
    print(config.page_url(token) if args.page_url else token)
    return 0

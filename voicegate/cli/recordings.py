"""``voicegate recordings``: list the call recordings in the data folder, or export one."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from voicegate.errors import RoomKitError
from voicegate.server.config import load_config
from voicegate.server.recordings import RECORDINGS_FOLDER, RecordingLibrary
from voicegate.server.settings_table import ENV_PREFIX


def add_parser(sub: Any) -> None:
    """Register ``recordings``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "recordings",
        help="list the call recordings, or export one to a file",
        description=(
            "Without --export, one line per recording: id, start, seconds, room, whether it "
            "ended normally (a killed server leaves it incomplete but playable; its next "
            "start measures it and posts its room event). "
            "--export ID --to FILE copies one recording's audio."
        ),
    )
    parser.add_argument("--export", metavar="ID", default=None, help="the recording to export")
    parser.add_argument("--to", type=Path, default=None, help="where to write it (with --export)")
    parser.add_argument(
        "--config", type=Path, default=None, help=f"TOML file of settings (also {ENV_PREFIX}CONFIG)"
    )
    parser.add_argument("--data-dir", dest="data_dir", default=None, help="as for serve")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List or export; a missing recording or a bad setting exits 2 with one line."""
    try:
        config = load_config(args)
    except RoomKitError as exc:
        print(f"voicegate recordings: {exc}", file=sys.stderr)
        return 2
    library = RecordingLibrary(config.data_dir / RECORDINGS_FOLDER)
    if args.export is None:
        for listed in library.all():
            length = listed.duration_seconds
            seconds = "-" if length is None else f"{length:.2f}"
            state = "complete" if listed.complete else "incomplete"
            print(
                f"{listed.id}  {listed.started_at}  {seconds:>8} s  room {listed.room_id}  {state}"
            )
        return 0
    info = library.get(args.export)
    if info is None or not library.file_of(info).is_file():
        print(f"voicegate recordings: no recording {args.export!r}", file=sys.stderr)
        return 2
    if args.to is None:
        print("voicegate recordings: --export needs --to FILE", file=sys.stderr)
        return 2
    shutil.copyfile(library.file_of(info), args.to)
    print(args.to)
    return 0

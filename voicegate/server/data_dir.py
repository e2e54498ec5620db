"""The data folder of ``voicegate serve``: created on first use, refused clearly if it cannot be."""

from __future__ import annotations

from pathlib import Path

from voicegate.errors import ConfigError


def prepare_data_dir(path: Path) -> Path:
    """``path``, created with its parents if missing; :class:`ConfigError` in one line if it
    is a file or cannot be created."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"the data folder {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the data folder {path}: {exc.strerror}") from None
    return path

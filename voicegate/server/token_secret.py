"""The secret that signs tokens: from the environment, from a file, or kept in the data folder.

Whoever holds the secret can mint tokens (``voicegate token``, or the application's own
backend with :class:`~voicegate.voice.tokens.TokenAuth`), and every process given the same
secret accepts the same tokens. Without ``VOICEGATE_TOKEN_SECRET`` or ``--token-secret-file``,
the first start writes a random one to ``<data-dir>/token-secret`` (mode 0600) and later
starts read it, so restarts keep tokens valid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from voicegate.errors import ConfigError
from voicegate.server.config import ServeConfig
from voicegate.server.data_dir import prepare_data_dir

logger = logging.getLogger(__name__)

TOKEN_SECRET_ENV = "VOICEGATE_TOKEN_SECRET"
"""The environment variable that holds the secret itself."""

TOKEN_SECRET_FILE_NAME = "token-secret"
"""The file in the data folder that keeps the generated secret."""

MIN_TOKEN_SECRET_BYTES = 32
"""The shortest secret accepted from the environment or a file."""


def load_token_secret(config: ServeConfig, environ: Mapping[str, str] | None = None) -> bytes:
    """The signing secret ``config`` and ``environ`` name (see the module docstring).

    Raises :class:`ConfigError` (one line) when both sources are given, when the secret
    cannot be read or kept, or when it is shorter than :data:`MIN_TOKEN_SECRET_BYTES`.
    """
    environ = os.environ if environ is None else environ
    from_environment = environ.get(TOKEN_SECRET_ENV)
    if from_environment is not None and config.token_secret_file is not None:
        raise ConfigError(
            f"the token secret is given twice: {TOKEN_SECRET_ENV} and --token-secret-file"
        )
    if from_environment is not None:
        return _checked(from_environment.strip().encode(), TOKEN_SECRET_ENV)
    if config.token_secret_file is not None:
        return _checked(_read(config.token_secret_file), str(config.token_secret_file))
    return _kept_secret(prepare_data_dir(config.data_dir) / TOKEN_SECRET_FILE_NAME)


def _kept_secret(path: Path) -> bytes:
    """The secret in ``path``, written there first (atomically, mode 0600) if missing."""
    if path.exists():
        if path.stat().st_mode & 0o077:
            logger.warning("the token secret %s is readable by others: chmod 600 it", path)
        return _checked(_read(path), str(path))
    secret = secrets.token_urlsafe(MIN_TOKEN_SECRET_BYTES).encode()
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secret + b"\n")
        os.link(draft, path)  # fails if another process kept its secret first
    except FileExistsError:
        return _checked(_read(path), str(path))
    except OSError as exc:
        raise ConfigError(f"cannot keep a token secret in {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(OSError):
            draft.unlink()
    logger.info("created the token secret %s", path)
    return secret


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the token secret {path}: {exc.strerror}") from None


def _checked(secret: bytes, origin: str) -> bytes:
    if len(secret) < MIN_TOKEN_SECRET_BYTES:
        raise ConfigError(
            f"the token secret from {origin} has {len(secret)} bytes;"
            f" it needs at least {MIN_TOKEN_SECRET_BYTES}"
        )
    return secret

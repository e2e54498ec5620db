"""The lazily imported ``redis.asyncio`` client shared by the Redis backends."""

from __future__ import annotations

from typing import Any

from voicegate.errors import ConfigError


def connect(url: str) -> Any:
    """A ``redis.asyncio.Redis`` client for ``url``; a clear error when redis is missing."""
    try:
        import redis.asyncio
    except ImportError as exc:
        raise ConfigError(
            "the Redis backends need the 'redis' package: pip install 'voicegate[redis]'"
        ) from exc
    return redis.asyncio.Redis.from_url(url)


def connection_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean the Redis server cannot be reached (now): retry, do not fail."""
    import redis.exceptions

    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

"""Room locks shared by every process that uses the same Redis server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from voicegate.core.locks import RoomLockManager
from voicegate.redis.client import connect, connection_errors

logger = logging.getLogger(__name__)

UNREACHABLE_RETRY_S = 0.2
"""Pause before asking an unreachable Redis for a lock again."""

# Extends the key's lifetime only while it still holds our token.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
# Deletes the key only while it still holds our token.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


@dataclass(slots=True, eq=False)
class _Hold:
    """One acquisition; dead once its holder released the lock."""

    manager: RedisLockManager
    room_id: str
    live: bool = True


_held: ContextVar[tuple[_Hold, ...]] = ContextVar("voicegate_redis_room_locks", default=())


class RedisLockManager(RoomLockManager):
    """Per-room locks on Redis: ``SET key token NX PX ttl``, renewed while held,
    released by a compare-and-delete script.

    Reentrant in the same execution context (children of ``asyncio.gather``
    included); a task that outlives the holder does not inherit the lock. A
    holder that dies stops renewing, so its lock frees itself after ``ttl``.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        ttl: float = 10.0,
        retry_interval: float = 0.005,
        key_prefix: str = "voicegate:lock:",
    ) -> None:
        if ttl <= 0 or retry_interval <= 0:
            raise ValueError("ttl and retry_interval must be positive")
        self._client: Any = connect(url)
        self._ttl_ms = int(ttl * 1000)
        self._retry_interval = retry_interval
        self._prefix = key_prefix
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)
        self._unreachable = connection_errors()

    def _holds(self, room_id: str) -> bool:
        return any(
            hold.live and hold.manager is self and hold.room_id == room_id for hold in _held.get()
        )

    @asynccontextmanager
    async def locked(self, room_id: str) -> AsyncIterator[None]:
        """Hold ``room_id``'s lock across every process on this Redis server."""
        if self._holds(room_id):
            yield
            return
        key = self._prefix + room_id
        token = uuid.uuid4().hex
        try:
            while True:
                if await self._try_set(key, token):
                    break
                await asyncio.sleep(self._retry_interval)
        except BaseException:  # cancelled mid-SET: the key may be ours, free it
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(keys=[key], args=[token]))
            raise
        renewal = asyncio.create_task(self._keep_alive(key, token))
        hold = _Hold(self, room_id)
        context_token = _held.set((*_held.get(), hold))
        try:
            yield
        finally:
            hold.live = False
            _held.reset(context_token)
            renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewal
            try:
                await self._release(keys=[key], args=[token])
            except self._unreachable as exc:
                logger.warning("room lock %s not released (%s); it expires by itself", key, exc)

    async def _try_set(self, key: str, token: str) -> bool:
        """Whether ``key`` is now ours; False while Redis cannot be reached."""
        try:
            return bool(await self._client.set(key, token, nx=True, px=self._ttl_ms))
        except self._unreachable as exc:
            logger.warning("room lock %s: Redis unreachable (%s); retrying", key, exc)
            await asyncio.sleep(UNREACHABLE_RETRY_S)
            return False

    async def _keep_alive(self, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                renewed = await self._renew(keys=[key], args=[token, self._ttl_ms])
            except self._unreachable as exc:
                logger.warning("room lock %s not renewed (%s)", key, exc)
                continue
            if not renewed:
                logger.warning("room lock %s expired while held (holder too slow?)", key)
                return

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self._client.aclose()

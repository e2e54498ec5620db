"""The room engine of ``voicegate serve`` and the servers it depends on.

One process keeps rooms in SQLite (or memory). Several processes share rooms through
PostgreSQL (``store = "postgres"``, ``postgres_url``) and Redis (``redis_url``): room
locks, ephemeral realtime events, the fan-out of room events
(:class:`~voicegate.redis.fanout.FanoutStore`), barge-in on answers streaming in another
process (:class:`~voicegate.redis.answers.RedisAnswerRelay`) and each process's liveness
lease (:class:`~voicegate.redis.lease.ProcessLease`: the callers of a killed process
leave their rooms) go through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from voicegate.core.kit import RoomKit
from voicegate.core.store import ConversationStore, InMemoryStore
from voicegate.errors import ChannelNotFoundError, ConfigError, RoomNotFoundError
from voicegate.server.config import ServeConfig
from voicegate.server.data_dir import prepare_data_dir
from voicegate.store.sqlite import SQLiteStore

HEALTH_TIMEOUT_S = 2.0
"""How long ``/healthz`` waits for each dependency to answer."""

Check = Callable[[], Awaitable[object]]


class Dependencies:
    """Builds the :class:`RoomKit` for a :class:`ServeConfig`; :meth:`open` connects to
    every server (a one-line :class:`ConfigError` or ``StoreError`` when one cannot be
    reached) and :meth:`health` reports each of them."""

    def __init__(self, config: ServeConfig) -> None:
        self._config = config
        self._checks: dict[str, Check] = {}
        store = self._store()
        self._closing: list[Callable[[], Awaitable[None]]] = []
        if config.redis_url is None:
            self.kit = RoomKit(store=store)
            self._fanout = None
            return
        if config.store != "postgres":
            raise ConfigError(
                "redis_url needs store = postgres: processes share their rooms through PostgreSQL"
            )
        from voicegate.redis import RedisLockManager, RedisRealtime
        from voicegate.redis.answers import RedisAnswerRelay
        from voicegate.redis.fanout import FanoutStore
        from voicegate.redis.lease import ProcessLease

        self._lease = ProcessLease(config.redis_url, ttl=config.lease_ttl)
        self._relay = RedisAnswerRelay(config.redis_url)
        self._fanout = FanoutStore(store, config.redis_url, lease=self._lease)
        self._checks["redis"] = self._fanout.ping
        self.kit = RoomKit(
            store=self._fanout,
            lock_manager=RedisLockManager(config.redis_url),
            realtime=RedisRealtime(config.redis_url),
        )

    def _store(self) -> ConversationStore:
        config = self._config
        if config.store == "memory":
            return InMemoryStore()
        if config.store == "postgres":
            if config.postgres_url is None:
                raise ConfigError("store = postgres needs postgres_url (or VOICEGATE_POSTGRES_URL)")
            from voicegate.store.postgres import PostgresStore

            store = PostgresStore(config.postgres_url)
            self._checks["postgres"] = store.ping
            return store
        prepare_data_dir(config.data_dir)
        return SQLiteStore(config.store_path)

    async def open(self) -> None:
        """Open the store, then start the fan-out (Redis)."""
        await self.kit.__aenter__()
        if self._fanout is None:
            return
        from voicegate.store.postgres import redact

        assert self._config.redis_url is not None
        try:
            await self._fanout.start(self.kit)
            await self._relay.start(self.kit)
            self._closing.append(self._relay.close)
            await self._lease.start(self._detach)
            self._closing.append(self._lease.close)
        except Exception as exc:
            where = redact(self._config.redis_url)
            raise ConfigError(f"cannot reach Redis at {where}: {exc}") from None

    async def _detach(self, room_id: str, channel_id: str) -> None:
        """Detach the channel of a dead process (the gateway then closes an emptied room)."""
        with contextlib.suppress(ChannelNotFoundError, RoomNotFoundError):  # reaped already
            await self.kit.detach_channel(room_id, channel_id)

    async def close(self) -> None:
        """Stop relaying and beating, then close the kit (and its store)."""
        while self._closing:
            await self._closing.pop()()
        await self.kit.close()

    async def health(self) -> dict[str, str]:
        """``"ok"`` or why not, per server the gateway depends on."""
        report: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(HEALTH_TIMEOUT_S):
                    await check()
                report[name] = "ok"
            except Exception as exc:
                report[name] = f"unreachable: {exc or type(exc).__name__}"
        return report

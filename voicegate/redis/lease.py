"""Process liveness on Redis, and the room bindings a dead process leaves behind.

A voice channel lives in one process (one caller's session): its binding in the shared
store means "a caller of this room is connected there". A process killed with SIGKILL
never detaches its channels, so their bindings would keep their rooms open for good.
Each process therefore holds a lease, a Redis key with a TTL that a heartbeat renews,
and records in a Redis set the bindings of its own channels while they exist. At start
and at every heartbeat a process looks for registered processes whose lease ran out and
hands their bindings to ``reap`` (``voicegate serve`` detaches them, which closes rooms
that no caller uses any more), then forgets those processes.

Keys (``prefix`` = ``voicegate:process:``): ``<prefix>registry`` (set of process ids),
``<prefix>lease:<id>`` (TTL), ``<prefix>bindings:<id>`` (set of ``[room, channel]`` JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from voicegate.redis.client import connect, connection_errors

logger = logging.getLogger(__name__)

LEASE_TTL_S = 15.0
"""How long a process counts as alive after its last heartbeat (it beats every third)."""

Reap = Callable[[str, str], Awaitable[None]]
"""Removes the binding of channel ``channel_id`` (second) from room ``room_id`` (first)."""


class ProcessLease:
    """This process's lease, the bindings it holds, and the reaping of dead processes'.

    :meth:`start` takes the lease, reaps, and starts the heartbeat; :meth:`hold` and
    :meth:`release` record this process's bindings (before the store has it, after the
    store dropped it: a crash in between leaves a record of a binding, never a binding
    without a record); :meth:`close` stops the heartbeat and gives the lease up, so what
    is left is reaped at once.
    """

    def __init__(
        self, url: str, *, ttl: float = LEASE_TTL_S, prefix: str = "voicegate:process:"
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be positive, got {ttl}")
        self.process_id = uuid.uuid4().hex
        self._client: Any = connect(url)
        self._ttl_ms = int(ttl * 1000)
        self._prefix = prefix
        self._registry = prefix + "registry"
        self._reap: Reap | None = None
        self._held: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._unreachable = connection_errors()

    def _lease(self, process_id: str) -> str:
        return f"{self._prefix}lease:{process_id}"

    def _bindings(self, process_id: str) -> str:
        return f"{self._prefix}bindings:{process_id}"

    async def start(self, reap: Reap) -> None:
        """Take the lease, reap the dead processes' bindings, then beat."""
        self._reap = reap
        await self._renew()
        await self.reap_dead()
        self._heartbeat = asyncio.create_task(self._beat(), name="voicegate-lease")

    async def hold(self, room_id: str, channel_id: str) -> None:
        """Record that this process binds ``channel_id`` to ``room_id``."""
        member = json.dumps([room_id, channel_id])
        self._held.add(member)
        await self._client.sadd(self._bindings(self.process_id), member)

    async def release(self, room_id: str, channel_id: str) -> None:
        """Forget a binding :meth:`hold` recorded (nothing if it did not)."""
        member = json.dumps([room_id, channel_id])
        if member in self._held:
            self._held.discard(member)
            await self._client.srem(self._bindings(self.process_id), member)

    async def reap_dead(self) -> int:
        """Hand every binding of a process whose lease ran out to ``reap``; how many."""
        reaped = 0
        for raw in await self._client.smembers(self._registry):
            process_id = raw.decode() if isinstance(raw, bytes) else str(raw)
            if process_id == self.process_id or await self._client.exists(self._lease(process_id)):
                continue
            reaped += await self._reap_process(process_id)
        return reaped

    async def _reap_process(self, process_id: str) -> int:
        key = self._bindings(process_id)
        reaped = 0
        for member in await self._client.smembers(key):
            room_id, channel_id = json.loads(member)
            if self._reap is not None:
                await self._reap(str(room_id), str(channel_id))
            await self._client.srem(key, member)
            reaped += 1
        await self._client.srem(self._registry, process_id)
        if reaped:
            logger.info("reaped %d binding(s) of the dead process %s", reaped, process_id)
        return reaped

    async def _renew(self) -> None:
        """Extend the lease; after a lapse (this process starved, or Redis lost its keys)
        register again with every binding still held."""
        renewed = await self._client.set(
            self._lease(self.process_id), "1", px=self._ttl_ms, xx=True
        )
        if renewed:
            return
        if self._heartbeat is not None:
            logger.warning("this process's lease had lapsed; registering it again")
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(self._lease(self.process_id), "1", px=self._ttl_ms)
            pipe.sadd(self._registry, self.process_id)
            if self._held:
                pipe.sadd(self._bindings(self.process_id), *self._held)
            await pipe.execute()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self._renew()
                await self.reap_dead()
            except self._unreachable as exc:
                logger.warning("process lease: Redis unreachable (%s); retrying", exc)
            except Exception:
                logger.exception("process lease: reaping dead processes failed")

    async def close(self) -> None:
        """Stop the heartbeat and give the lease up."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        try:
            await self._client.delete(self._lease(self.process_id))
        except self._unreachable as exc:
            logger.warning("process lease not given up (%s); it expires by itself", exc)
        await self._client.aclose()

"""Per-room locks: one holder per room at a time, reentrant within one execution context."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass


class RoomLockManager(ABC):
    """Per-room exclusive locks.

    Implementations must be reentrant in the same execution context, children of
    ``asyncio.gather`` included, so that code running under a room's lock can call
    into code that takes the same lock.
    """

    @abstractmethod
    def locked(self, room_id: str) -> AbstractAsyncContextManager[None]:
        """Async context manager holding the lock of ``room_id``."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (connections of distributed backends)."""


@dataclass(slots=True, eq=False)
class _Hold:
    """One acquisition of a room lock; dead once its holder left the lock.

    ``guests`` counts reentrant entries (gather children, tasks started inside) still
    inside: the lock is released when the holder and every guest have left.
    """

    manager: InMemoryLockManager
    room_id: str
    entry: _Entry
    live: bool = True
    guests: int = 0


_held: ContextVar[tuple[_Hold, ...]] = ContextVar("voicegate_held_room_locks", default=())


@dataclass(slots=True, eq=False)
class _Entry:
    lock: asyncio.Lock
    users: int = 0


class InMemoryLockManager(RoomLockManager):
    """In-process per-room asyncio locks with LRU eviction of idle locks.

    The context remembers its acquisitions as hold tokens. A task created with
    ``create_task`` inside the lock inherits the token, but the token dies when the
    holder releases the lock, so a task outliving its holder must queue like anyone else.
    """

    def __init__(self, max_locks: int = 1024) -> None:
        if max_locks < 1:
            raise ValueError(f"max_locks must be at least 1, got {max_locks}")
        self._max_locks = max_locks
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    @property
    def size(self) -> int:
        """How many room locks are kept (held, awaited or idle)."""
        return len(self._entries)

    def _live_hold(self, room_id: str) -> _Hold | None:
        for hold in _held.get():
            if hold.live and hold.room_id == room_id and hold.manager is self:
                return hold
        return None

    @asynccontextmanager
    async def locked(self, room_id: str) -> AsyncIterator[None]:
        """Hold ``room_id``'s lock; immediate when this context already holds it."""
        held = self._live_hold(room_id)
        if held is not None:
            held.guests += 1
            try:
                yield
            finally:
                held.guests -= 1
                if not held.live and held.guests == 0:
                    self._release(held)
            return
        entry = self._entries.get(room_id)
        if entry is None:
            entry = self._entries[room_id] = _Entry(asyncio.Lock())
        else:
            self._entries.move_to_end(room_id)
        entry.users += 1
        try:
            await entry.lock.acquire()
        except BaseException:
            entry.users -= 1
            raise
        hold = _Hold(self, room_id, entry)
        token = _held.set((*_held.get(), hold))
        try:
            yield
        finally:
            hold.live = False
            _held.reset(token)
            if hold.guests == 0:
                self._release(hold)

    def _release(self, hold: _Hold) -> None:
        hold.entry.lock.release()
        hold.entry.users -= 1
        self._evict()

    def _evict(self) -> None:
        excess = len(self._entries) - self._max_locks
        if excess <= 0:
            return
        idle = [room for room, entry in self._entries.items() if entry.users == 0]
        for room_id in idle[:excess]:
            del self._entries[room_id]

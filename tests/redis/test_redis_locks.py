"""RedisLockManager against a real redis-server: two managers stand for two processes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voicegate.errors import ConfigError
from voicegate.redis import RedisLockManager
from voicegate.redis.client import connect

pytestmark = pytest.mark.redis


@pytest.fixture
async def managers(redis_url: str) -> AsyncIterator[tuple[RedisLockManager, RedisLockManager]]:
    first, second = RedisLockManager(redis_url), RedisLockManager(redis_url)
    yield first, second
    await first.close()
    await second.close()


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Any]:
    """A plain redis client, to play a foreign process writing lock keys."""
    raw = connect(redis_url)
    yield raw
    await raw.aclose()


async def test_one_holder_at_a_time_across_processes(
    managers: tuple[RedisLockManager, RedisLockManager],
) -> None:
    inside: list[str] = []
    overlaps = 0
    counter = 0

    async def worker(manager: RedisLockManager, name: str) -> None:
        nonlocal overlaps, counter
        for _ in range(10):
            async with manager.locked("room-x"):
                overlaps += bool(inside)
                inside.append(name)
                value = counter
                await asyncio.sleep(0.001)
                counter = value + 1
                inside.remove(name)

    await asyncio.gather(*(worker(m, f"{i}-{j}") for i, m in enumerate(managers) for j in range(3)))
    assert overlaps == 0
    assert counter == 60


async def test_rooms_are_independent(managers: tuple[RedisLockManager, RedisLockManager]) -> None:
    first, second = managers
    async with first.locked("room-a"), second.locked("room-b"):
        entered_both = True
    assert entered_both


async def test_reentrant_in_the_same_context_and_gather_children(
    managers: tuple[RedisLockManager, RedisLockManager],
) -> None:
    first, _ = managers
    seen: list[str] = []

    async def child(name: str) -> None:
        async with first.locked("room-r"):
            seen.append(name)

    async with first.locked("room-r"):
        async with first.locked("room-r"):
            seen.append("nested")
        await asyncio.wait_for(asyncio.gather(child("a"), child("b")), timeout=10)
    assert seen == ["nested", "a", "b"]


async def test_a_task_outliving_its_holder_does_not_hold_the_lock(
    managers: tuple[RedisLockManager, RedisLockManager],
) -> None:
    first, second = managers
    holder_left = asyncio.Event()
    other_holds = asyncio.Event()
    other_may_leave = asyncio.Event()
    order: list[str] = []

    async def late() -> None:
        await holder_left.wait()
        await other_holds.wait()
        async with first.locked("room-t"):
            order.append("late task")

    async def other() -> None:
        async with second.locked("room-t"):
            other_holds.set()
            await other_may_leave.wait()
            order.append("other process")

    async with first.locked("room-t"):
        late_task = asyncio.create_task(late())
        other_task = asyncio.create_task(other())
    holder_left.set()
    await other_holds.wait()
    await asyncio.sleep(0.05)  # the late task must now be queued behind the other process
    other_may_leave.set()
    await asyncio.wait_for(asyncio.gather(late_task, other_task), timeout=10)
    assert order == ["other process", "late task"]


async def test_renewal_keeps_a_slow_holder_exclusive(redis_url: str) -> None:
    holder, rival = RedisLockManager(redis_url, ttl=0.2), RedisLockManager(redis_url, ttl=0.2)
    order: list[str] = []
    holding = asyncio.Event()

    async def slow() -> None:
        async with holder.locked("room-slow"):
            holding.set()
            await asyncio.sleep(0.6)  # three times the ttl
            order.append("slow holder done")

    async def contender() -> None:
        await holding.wait()
        async with rival.locked("room-slow"):
            order.append("rival")

    await asyncio.gather(slow(), contender())
    assert order == ["slow holder done", "rival"]
    await holder.close()
    await rival.close()


async def test_release_never_deletes_someone_elses_lock(
    managers: tuple[RedisLockManager, RedisLockManager], client: Any
) -> None:
    first, _ = managers
    async with first.locked("room-cas"):
        await client.set("voicegate:lock:room-cas", "someone-else")
    assert await client.get("voicegate:lock:room-cas") == b"someone-else"
    await client.delete("voicegate:lock:room-cas")


async def test_a_dead_holders_lock_expires(
    managers: tuple[RedisLockManager, RedisLockManager], client: Any
) -> None:
    first, _ = managers
    await client.set("voicegate:lock:room-dead", "crashed-process", px=100)
    async with first.locked("room-dead"):
        assert await client.get("voicegate:lock:room-dead") != b"crashed-process"


def test_missing_redis_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ConfigError, match=r"pip install 'voicegate\[redis\]'"):
        RedisLockManager()

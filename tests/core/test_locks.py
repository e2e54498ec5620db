"""InMemoryLockManager: exclusion, independence, reentrancy, the create_task leak, LRU."""

from __future__ import annotations

import asyncio

from voicegate import InMemoryLockManager


async def test_one_holder_per_room_and_rooms_are_independent() -> None:
    locks = InMemoryLockManager()
    inside = 0
    peak = 0
    other_ran = asyncio.Event()

    async def worker() -> None:
        nonlocal inside, peak
        async with locks.locked("r1"):
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.001)
            inside -= 1

    async def other_room() -> None:
        async with locks.locked("r2"):
            other_ran.set()

    waiters = [asyncio.create_task(worker()) for _ in range(5)]
    async with locks.locked("r1"):
        await asyncio.sleep(0.01)
        await other_room()
        assert other_ran.is_set()
        await asyncio.sleep(0.01)
        assert inside == 0
    await asyncio.gather(*waiters)
    assert peak == 1


async def test_reentrant_in_context_and_gather_children() -> None:
    locks = InMemoryLockManager()

    async def child() -> str:
        async with locks.locked("r"):
            return "ok"

    async with locks.locked("r"), locks.locked("r"):
        assert await asyncio.wait_for(asyncio.gather(child(), child()), 2) == ["ok", "ok"]


async def test_task_outliving_holder_does_not_hold_the_lock() -> None:
    locks = InMemoryLockManager()
    leaked_entered = asyncio.Event()
    release_other = asyncio.Event()
    other_holding = asyncio.Event()

    async def leaked() -> None:
        await asyncio.sleep(0.01)
        async with locks.locked("r"):
            leaked_entered.set()

    async def other_holder() -> None:
        async with locks.locked("r"):
            other_holding.set()
            await release_other.wait()

    async with locks.locked("r"):
        straggler = asyncio.create_task(leaked())
    holder = asyncio.create_task(other_holder())
    await other_holding.wait()
    await asyncio.sleep(0.05)
    assert not leaked_entered.is_set()
    release_other.set()
    await asyncio.wait_for(straggler, 2)
    await holder
    assert leaked_entered.is_set()


async def test_guest_still_inside_keeps_the_lock_after_holder_left() -> None:
    locks = InMemoryLockManager()
    guest_inside = asyncio.Event()
    guest_leave = asyncio.Event()
    outsider_entered = asyncio.Event()

    async def guest() -> None:
        async with locks.locked("r"):
            guest_inside.set()
            await guest_leave.wait()

    async with locks.locked("r"):
        guest_task = asyncio.create_task(guest())
        await guest_inside.wait()
    outsider = asyncio.create_task(_enter(locks, "r", outsider_entered))
    await asyncio.sleep(0.02)
    assert not outsider_entered.is_set()
    guest_leave.set()
    await asyncio.wait_for(asyncio.gather(guest_task, outsider), 2)
    assert outsider_entered.is_set()


async def test_lru_keeps_at_most_max_idle_locks_and_never_evicts_held() -> None:
    locks = InMemoryLockManager(max_locks=3)
    for i in range(10):
        await _enter(locks, f"room-{i}")
    assert locks.size == 3
    holding, release = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with locks.locked("held"):
            holding.set()
            await release.wait()

    held = asyncio.create_task(holder())
    await holding.wait()
    for i in range(10, 20):
        await _enter(locks, f"room-{i}")
    assert locks.size == 3
    entered = asyncio.Event()
    outsider = asyncio.create_task(_enter(locks, "held", entered))
    await asyncio.sleep(0.01)
    assert not entered.is_set()
    release.set()
    await asyncio.wait_for(asyncio.gather(held, outsider), 2)
    assert entered.is_set()


async def _enter(
    locks: InMemoryLockManager, room_id: str, entered: asyncio.Event | None = None
) -> None:
    async with locks.locked(room_id):
        if entered is not None:
            entered.set()

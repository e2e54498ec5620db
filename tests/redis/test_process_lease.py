"""ProcessLease on a real Redis: the bindings a process holds are handed to a survivor's
``reap`` once its lease runs out, and only then."""

from __future__ import annotations

import asyncio
import uuid

from voicegate.redis.lease import ProcessLease

TTL_S = 0.3


class Reaped:
    """A ``reap`` that records what it was handed, and wakes the test."""

    def __init__(self) -> None:
        self.bindings: list[tuple[str, str]] = []
        self.changed = asyncio.Event()

    async def __call__(self, room_id: str, channel_id: str) -> None:
        self.bindings.append((room_id, channel_id))
        self.changed.set()


def _prefix() -> str:
    return f"test-lease-{uuid.uuid4().hex}:"


async def test_a_dead_process_bindings_are_reaped_by_a_survivor(redis_url: str) -> None:
    prefix = _prefix()
    dead, survivor = (ProcessLease(redis_url, ttl=TTL_S, prefix=prefix) for _ in range(2))
    reaped_by_dead, reaped = Reaped(), Reaped()
    await dead.start(reaped_by_dead)
    await dead.hold("room-1", "voice-a")
    await dead.hold("room-2", "voice-b")
    await dead.hold("room-1", "voice-gone")
    await dead.release("room-1", "voice-gone")
    await survivor.start(reaped)
    assert reaped.bindings == []  # alive: nothing to reap
    assert await survivor.reap_dead() == 0

    assert dead._heartbeat is not None
    dead._heartbeat.cancel()  # as SIGKILL does: no more beats, nothing given up
    async with asyncio.timeout(30):
        while len(reaped.bindings) < 2:
            reaped.changed.clear()
            await reaped.changed.wait()
    assert sorted(reaped.bindings) == [("room-1", "voice-a"), ("room-2", "voice-b")]
    assert await survivor.reap_dead() == 0  # reaped once, then forgotten
    assert reaped_by_dead.bindings == []
    await survivor.close()
    await dead.close()


async def test_a_process_that_closes_leaves_what_it_still_holds_to_the_next(
    redis_url: str,
) -> None:
    prefix = _prefix()
    closing = ProcessLease(redis_url, ttl=60, prefix=prefix)
    await closing.start(Reaped())
    await closing.hold("room-1", "voice-left-behind")
    await closing.close()  # gives its lease up: no need to wait for it to run out
    later, reaped = ProcessLease(redis_url, ttl=60, prefix=prefix), Reaped()
    await later.start(reaped)
    assert reaped.bindings == [("room-1", "voice-left-behind")]
    await later.close()

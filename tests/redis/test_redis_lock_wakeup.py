"""RedisLockManager: a waiter in another process takes the lock when its holder releases
it, not at its next poll (the polling interval here is far longer than the test's deadline)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from voicegate.redis import RedisLockManager
from voicegate.redis.client import connect

pytestmark = pytest.mark.redis

NEVER_S = 3600.0
"""A polling interval no test waits for: only the release announcement can wake a waiter."""


async def test_a_waiter_wakes_when_the_holder_releases(redis_url: str) -> None:
    channel = f"test-released-{uuid.uuid4().hex}"
    holder = RedisLockManager(redis_url, release_channel=channel)
    waiter = RedisLockManager(redis_url, retry_interval=NEVER_S, release_channel=channel)
    observer = connect(redis_url)
    log: list[str] = []
    try:
        async with holder.locked("room"):
            log.append("held")
            waiting = asyncio.create_task(_take(waiter, "room", log))
            # the waiter found the lock taken: it subscribed to the releases, and waits
            async with asyncio.timeout(60):
                while True:
                    [(_, subscribers)] = await observer.pubsub_numsub(channel)
                    if subscribers:
                        break
                    await asyncio.sleep(0.01)
            log.append("released")
        async with asyncio.timeout(60):
            await waiting
    finally:
        await holder.close()
        await waiter.close()
        await observer.aclose()
    assert log == ["held", "released", "took room"]


async def _take(manager: RedisLockManager, room_id: str, log: list[str]) -> None:
    async with manager.locked(room_id):
        log.append(f"took {room_id}")

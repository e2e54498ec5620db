"""A full disk: writes fail with a clear error, the store goes on, and recovers with space."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.store.small_disk import SmallDiskStore
from voicegate.core.models import ChannelType, EventSource, Room, RoomEvent, TextContent
from voicegate.core.store import StoreUnavailableError

HANG_GUARD_S = 60.0
"""How long a call may take before the test calls it a hang (not a timing)."""


def message(room_id: str, size: int = 2000) -> RoomEvent:
    return RoomEvent(
        room_id=room_id,
        source=EventSource(channel_id="ws", channel_type=ChannelType.WEBSOCKET),
        content=TextContent(body="x" * size),
    )


async def fill(store: SmallDiskStore, room_id: str) -> tuple[int, StoreUnavailableError]:
    """Write events one by one until the disk is full: how many fitted, and the error."""
    for written in range(10_000):
        try:
            await store.add_event(message(room_id))
        except StoreUnavailableError as error:
            return written, error
    raise AssertionError("the disk never filled up")


async def test_a_full_disk_fails_writes_clearly_and_the_store_recovers(tmp_path: Path) -> None:
    store = SmallDiskStore(tmp_path / "rooms.db", spare_pages=8)
    async with asyncio.timeout(HANG_GUARD_S):
        await store.create_room(Room(id="r1"))
        assert store.failure is None
        written, error = await fill(store, "r1")

        assert written > 0
        assert "full" in str(error)
        assert store.failure is not None
        assert "full" in store.failure
        # reads go on, and nothing half-written is seen
        assert await store.count_events("r1") == written
        assert [e.index for e in await store.list_events("r1", limit=10_000)] == list(
            range(written)
        )
        # a burst of writes shares a transaction with reads: the reads still succeed
        results = await asyncio.gather(
            *(store.add_event(message("r1")) for _ in range(5)),
            store.get_room("r1"),
            store.count_events("r1"),
            return_exceptions=True,
        )
        assert all(isinstance(r, StoreUnavailableError) for r in results[:5]), results
        assert results[5] == Room(id="r1", created_at=results[5].created_at)  # type: ignore[union-attr]
        assert results[6] == written
        assert store.failure is not None

        await store.free_space()
        event = await store.add_event(message("r1"))
        assert event.index == written, "indexes go on gap-free after the failures"
        assert store.failure is None
        await store.close()


async def test_closing_a_full_store_does_not_hang(tmp_path: Path) -> None:
    store = SmallDiskStore(tmp_path / "rooms.db", spare_pages=4)
    async with asyncio.timeout(HANG_GUARD_S):
        await store.create_room(Room(id="r1"))
        await fill(store, "r1")
        pending = [asyncio.create_task(store.add_event(message("r1"))) for _ in range(3)]
        await asyncio.sleep(0)  # queued in the worker before the close
        await store.close()
        for task in pending:
            with pytest.raises(StoreUnavailableError):
                await task

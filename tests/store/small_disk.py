"""A SQLite store on a disk that fills up: SQLite's ``max_page_count`` as the disk's size."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

from voicegate.core.models import ChannelType, EventSource, Room, RoomEvent, TextContent
from voicegate.core.store import StoreUnavailableError
from voicegate.store.sqlite import SQLiteStore


class SmallDiskStore(SQLiteStore):
    """A :class:`SQLiteStore` whose file may hold ``spare_pages`` pages more than it had
    when opened; :meth:`free_space` makes room again, as deleting files would."""

    def __init__(self, path: str | Path, spare_pages: int) -> None:
        super().__init__(path)
        self.spare_pages = spare_pages

    def _setup(self, connection: sqlite3.Connection) -> None:
        super()._setup(connection)
        _limit(connection, self.spare_pages)

    async def free_space(self, pages: int = 10_000) -> None:
        """Let the file grow by ``pages`` pages more from its size now."""
        await self._worker.call(lambda connection: _limit(connection, pages))


def _limit(connection: sqlite3.Connection, spare_pages: int) -> None:
    (used,) = connection.execute("PRAGMA page_count").fetchone()
    connection.execute(f"PRAGMA max_page_count={used + spare_pages}")


async def fill_up(store: SQLiteStore, room_id: str = "filler") -> None:
    """Write events into a room of their own (made here), then rooms, until not even a small
    one fits: every table's pages are full."""
    await store.create_room(Room(id=room_id))
    source = EventSource(channel_id="filler", channel_type=ChannelType.SMS)
    for size in (2000, 200, 20, 1):
        text = TextContent("x" * size)
        await _until_full(lambda t=text: store.add_event(RoomEvent(room_id, source, t)))
        await _until_full(lambda t=text: store.create_room(Room(metadata={"pad": t.body})))


async def _until_full(write: Callable[[], Awaitable[object]]) -> None:
    for _ in range(10_000):
        try:
            await write()
        except StoreUnavailableError:
            return
    raise AssertionError("the disk never filled up")

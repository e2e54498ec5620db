"""A SQLite store on a disk that fills up: SQLite's ``max_page_count`` as the disk's size."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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

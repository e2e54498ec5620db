"""The embedded persistent store: one SQLite file in WAL mode, worked by one thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from voicegate.core.models import (
    ChannelBinding,
    Observation,
    Room,
    RoomEvent,
    Task,
    TaskStatus,
)
from voicegate.core.store import ConversationStore, StoreError
from voicegate.errors import RoomNotFoundError
from voicegate.store import codec
from voicegate.store.sqlite_schema import migrate
from voicegate.store.sqlite_worker import SQLiteWorker

_INSERT_EVENT = (
    f"INSERT INTO events ({codec.EVENT_COLUMNS})"
    f" VALUES ({','.join('?' * len(codec.EVENT_COLUMNS.split(',')))})"
)
_SELECT_EVENTS = f"SELECT {codec.EVENT_COLUMNS} FROM events"


class SQLiteStore(ConversationStore):
    """Timelines, bindings, read markers, tasks and observations in one SQLite file.

    Nothing touches the database on the event loop: every operation runs in the
    store's worker thread, which group-commits queued writes. An awaited write
    is committed to the file (WAL, ``synchronous=NORMAL``: it survives a crash
    of the process; only a power loss may drop the latest commits). The file
    and schema are created (or migrated) on first use (or :meth:`open`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._worker = SQLiteWorker(self.path, self._setup, self._load_counters)
        # The next index of each room: its event count. Worker thread only.
        self._next_index: dict[str, int] = {}

    async def open(self) -> None:
        await self._worker.call(lambda _: None)

    async def close(self) -> None:
        await self._worker.close()

    @property
    def failure(self) -> str | None:
        return self._worker.failure

    def _setup(self, connection: sqlite3.Connection) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        migrate(connection)
        self._load_counters(connection)

    def _load_counters(self, connection: sqlite3.Connection) -> None:
        counts = dict.fromkeys((row[0] for row in connection.execute("SELECT id FROM rooms")), 0)
        query = "SELECT room_id, MAX(idx) + 1 FROM events GROUP BY room_id"
        counts.update(connection.execute(query).fetchall())
        self._next_index = counts

    def _require_room(self, room_id: str) -> None:
        if room_id not in self._next_index:
            raise RoomNotFoundError(f"room {room_id!r} does not exist")

    # rooms
    async def create_room(self, room: Room) -> Room:
        row = codec.room_row(room)

        def insert(connection: sqlite3.Connection) -> None:
            if room.id in self._next_index:
                raise StoreError(f"room {room.id!r} already exists")
            connection.execute("INSERT INTO rooms VALUES (?,?,?,?,?)", row)
            self._next_index[room.id] = 0

        await self._worker.call(insert)
        return room

    async def get_room(self, room_id: str) -> Room | None:
        row = await self._fetch_one("SELECT * FROM rooms WHERE id=?", (room_id,))
        return None if row is None else codec.room_from_row(row)

    async def update_room(self, room: Room) -> Room:
        row = codec.room_row(room)

        def update(connection: sqlite3.Connection) -> None:
            self._require_room(room.id)
            query = "UPDATE rooms SET status=?, metadata=?, created_at=?, closed_at=? WHERE id=?"
            connection.execute(query, (*row[1:], room.id))

        await self._worker.call(update)
        return room

    async def list_rooms(self, offset: int = 0, limit: int = 50) -> list[Room]:
        rows = await self._fetch_all(
            "SELECT * FROM rooms ORDER BY rowid LIMIT ? OFFSET ?", (limit, offset)
        )
        return [codec.room_from_row(row) for row in rows]

    # channel bindings
    async def add_binding(self, binding: ChannelBinding) -> None:
        row = codec.binding_row(binding)

        def upsert(connection: sqlite3.Connection) -> None:
            self._require_room(binding.room_id)
            connection.execute(
                "INSERT INTO bindings VALUES (?,?,?,?) ON CONFLICT (room_id, channel_id)"
                " DO UPDATE SET channel_type=excluded.channel_type,"
                " attached_at=excluded.attached_at",
                row,
            )

        await self._worker.call(upsert)

    async def remove_binding(self, room_id: str, channel_id: str) -> bool:
        def delete(connection: sqlite3.Connection) -> bool:
            self._require_room(room_id)
            query = "DELETE FROM bindings WHERE room_id=? AND channel_id=?"
            return connection.execute(query, (room_id, channel_id)).rowcount > 0

        return await self._worker.call(delete)

    async def list_bindings(self, room_id: str) -> list[ChannelBinding]:
        def select(connection: sqlite3.Connection) -> list[Any]:
            self._require_room(room_id)
            query = "SELECT * FROM bindings WHERE room_id=? ORDER BY rowid"
            return connection.execute(query, (room_id,)).fetchall()

        return [codec.binding_from_row(row) for row in await self._worker.call(select)]

    # events
    async def add_event(self, event: RoomEvent) -> RoomEvent:
        row = codec.event_row(event)
        room_id = event.room_id

        def insert(connection: sqlite3.Connection) -> int:
            index = self._next_index.get(room_id)
            if index is None:
                raise RoomNotFoundError(f"room {room_id!r} does not exist")
            row[2] = index
            connection.execute(_INSERT_EVENT, row)
            self._next_index[room_id] = index + 1
            return index

        return event.copy(index=await self._worker.call(insert))

    async def get_event(self, event_id: str) -> RoomEvent | None:
        row = await self._fetch_one(f"{_SELECT_EVENTS} WHERE id=?", (event_id,))
        return None if row is None else codec.event_from_row(row)

    async def list_events(
        self,
        room_id: str,
        offset: int = 0,
        limit: int = 50,
        visibility_filter: str | None = None,
    ) -> list[RoomEvent]:
        if visibility_filter is None:
            query = f"{_SELECT_EVENTS} WHERE room_id=? ORDER BY idx LIMIT ? OFFSET ?"
            params: tuple[Any, ...] = (room_id, limit, offset)
        else:
            query = (
                f"{_SELECT_EVENTS} WHERE room_id=? AND visibility=? ORDER BY idx LIMIT ? OFFSET ?"
            )
            params = (room_id, str(visibility_filter), limit, offset)
        return [codec.event_from_row(row) for row in await self._fetch_all(query, params)]

    async def count_events(self, room_id: str) -> int:
        return await self._worker.call(lambda _: self._next_index.get(room_id, 0))

    # read markers
    async def mark_read(self, room_id: str, channel_id: str, event_id: str) -> None:
        def mark(connection: sqlite3.Connection) -> None:
            query = "SELECT idx FROM events WHERE id=? AND room_id=?"
            found = connection.execute(query, (event_id, room_id)).fetchone()
            if found is not None:
                _raise_marker(connection, room_id, channel_id, found[0])

        await self._worker.call(mark)

    async def mark_all_read(self, room_id: str, channel_id: str) -> None:
        def mark(connection: sqlite3.Connection) -> None:
            count = self._next_index.get(room_id, 0)
            if count:
                _raise_marker(connection, room_id, channel_id, count - 1)

        await self._worker.call(mark)

    async def get_unread_count(self, room_id: str, channel_id: str) -> int:
        def count(connection: sqlite3.Connection) -> int:
            query = "SELECT idx FROM read_markers WHERE room_id=? AND channel_id=?"
            marker = connection.execute(query, (room_id, channel_id)).fetchone()
            last_read: int = -1 if marker is None else marker[0]
            return self._next_index.get(room_id, 0) - 1 - last_read

        return await self._worker.call(count)

    # tasks and observations
    async def add_task(self, task: Task) -> Task:
        row = codec.task_row(task)
        await self._execute("INSERT OR REPLACE INTO tasks VALUES (?,?,?,?,?,?,?,?,?)", row)
        return task

    async def update_task(self, task: Task) -> Task:
        row = codec.task_row(task)

        def update(connection: sqlite3.Connection) -> None:
            query = (
                "UPDATE tasks SET room_id=?, name=?, status=?, result=?, error=?, metadata=?,"
                " created_at=?, completed_at=? WHERE id=?"
            )
            if connection.execute(query, (*row[1:], task.id)).rowcount == 0:
                raise StoreError(f"task {task.id!r} does not exist")

        await self._worker.call(update)
        return task

    async def list_tasks(self, room_id: str, status: TaskStatus | None = None) -> list[Task]:
        if status is None:
            rows = await self._fetch_all(
                "SELECT * FROM tasks WHERE room_id=? ORDER BY rowid", (room_id,)
            )
        else:
            rows = await self._fetch_all(
                "SELECT * FROM tasks WHERE room_id=? AND status=? ORDER BY rowid",
                (room_id, status.value),
            )
        return [codec.task_from_row(row) for row in rows]

    async def add_observation(self, observation: Observation) -> Observation:
        row = codec.observation_row(observation)
        await self._execute("INSERT INTO observations VALUES (?,?,?,?,?)", row)
        return observation

    async def list_observations(self, room_id: str) -> list[Observation]:
        rows = await self._fetch_all(
            "SELECT * FROM observations WHERE room_id=? ORDER BY rowid", (room_id,)
        )
        return [codec.observation_from_row(row) for row in rows]

    # plumbing
    async def _execute(self, query: str, params: tuple[Any, ...]) -> None:
        await self._worker.call(lambda c: c.execute(query, params).close())

    async def _fetch_one(self, query: str, params: tuple[Any, ...]) -> Any:
        return await self._worker.call(lambda c: c.execute(query, params).fetchone())

    async def _fetch_all(self, query: str, params: tuple[Any, ...]) -> list[Any]:
        return await self._worker.call(lambda c: c.execute(query, params).fetchall())


def _raise_marker(connection: sqlite3.Connection, room_id: str, channel_id: str, idx: int) -> None:
    connection.execute(
        "INSERT INTO read_markers VALUES (?,?,?) ON CONFLICT (room_id, channel_id)"
        " DO UPDATE SET idx=MAX(idx, excluded.idx)",
        (room_id, channel_id, idx),
    )

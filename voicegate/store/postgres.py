"""The store several processes share: PostgreSQL through an asyncpg connection pool.

Needs the ``postgres`` extra (``pip install 'voicegate[postgres]'``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from voicegate.errors import ConfigError, RoomNotFoundError

try:
    import asyncpg
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigError(
        "PostgresStore needs the 'asyncpg' package: pip install 'voicegate[postgres]'"
    ) from exc

from voicegate.core.models import (
    ChannelBinding,
    Observation,
    Room,
    RoomEvent,
    Task,
    TaskStatus,
)
from voicegate.core.store import ConversationStore, StoreError
from voicegate.store import codec
from voicegate.store.postgres_schema import migrate

# One statement, so one transaction: bump the room's counter (its row lock orders
# concurrent writers, in any process) and insert the event with the old value. An
# unknown room bumps nothing and inserts nothing; a failed insert undoes the bump.
_INSERT_EVENT = f"""
WITH room AS (
    UPDATE rooms SET next_index = next_index + 1 WHERE id = $2 RETURNING next_index - 1 AS idx
)
INSERT INTO events ({codec.EVENT_COLUMNS})
SELECT $1, $2, room.idx, $3, $4, $5, $6, $7, $8::int, $9, $10, $11, $12,
    $13::jsonb, $14::jsonb, $15::timestamptz, $16
FROM room RETURNING idx
"""
_SELECT_EVENTS = f"SELECT {codec.EVENT_COLUMNS} FROM events"
_ROOM_COLUMNS = "id, status, metadata, created_at, closed_at"
_BINDING_COLUMNS = "room_id, channel_id, channel_type, attached_at"
_TASK_COLUMNS = "id, room_id, name, status, result, error, metadata, created_at, completed_at"
_OBSERVATION_COLUMNS = "id, room_id, kind, data, created_at"
# Every task column but the id, from the parameters of codec.task_row ($1 is the id).
_TASK_ASSIGNMENTS = (
    "room_id = $2, name = $3, status = $4, result = $5, error = $6, metadata = $7,"
    " created_at = $8, completed_at = $9"
)
_RAISE_MARKER = (
    " ON CONFLICT (room_id, channel_id)"
    " DO UPDATE SET idx = GREATEST(read_markers.idx, excluded.idx)"
)
# Errors that mean the server cannot be reached (any more).
_CONNECTION_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)


def redact(dsn: str) -> str:
    """``dsn`` without its password, for messages and logs."""
    parts = urlsplit(dsn)
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    host = f"{user}@{netloc[2]}" if user else netloc[2]
    return urlunsplit((parts.scheme, host, parts.path, query, ""))


class PostgresStore(ConversationStore):
    """Timelines, bindings, read markers, tasks and observations in PostgreSQL.

    Any number of processes may share one database: each event's per-room
    ``index`` comes from a counter on the room row, bumped in the transaction
    that inserts the event, so indexes stay gap-free across processes. The
    schema is created (or migrated) on :meth:`open`, or on first use. Moments
    come back in UTC.

    ``dsn`` is a ``postgresql://user:password@host:port/database`` URL;
    ``min_size``/``max_size`` bound the connection pool; ``connect_timeout``
    bounds each connection attempt in seconds.
    """

    def __init__(
        self,
        dsn: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self._where = redact(dsn)
        self._pool_options = {
            "min_size": min_size,
            "max_size": max_size,
            "timeout": connect_timeout,
        }
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self._closed = False

    async def open(self) -> None:
        await self._connected()

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def ping(self) -> None:
        """Raise ``StoreError`` unless the server answers (for health checks)."""
        await self._call("fetchval", "SELECT 1")

    async def _connected(self) -> Any:
        if self._closed:
            raise StoreError(f"the PostgresStore for {self._where} is closed")
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await self._connect()
        return self._pool

    async def _connect(self) -> Any:
        try:
            pool = await asyncpg.create_pool(
                self.dsn,
                init=_init_connection,
                reset=_keep_session,
                server_settings={"timezone": "UTC"},
                **self._pool_options,
            )
        except (*_CONNECTION_ERRORS, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            reason = str(exc) or type(exc).__name__
            password = urlsplit(self.dsn).password
            if password:
                reason = reason.replace(password, "***")
            raise StoreError(f"cannot connect to PostgreSQL at {self._where}: {reason}") from None
        try:
            async with pool.acquire() as connection:
                await migrate(connection)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _call(self, method: str, query: str, *args: Any) -> Any:
        """Run ``pool.<method>(query, *args)``, turning a lost server into a ``StoreError``."""
        pool = await self._connected()
        try:
            return await getattr(pool, method)(query, *args)
        except _CONNECTION_ERRORS as exc:
            raise StoreError(f"lost the connection to PostgreSQL at {self._where}: {exc}") from exc
        except asyncpg.DataError as exc:
            raise StoreError(f"PostgreSQL refused a value: {exc}") from exc

    # rooms
    async def create_room(self, room: Room) -> Room:
        query = (
            f"INSERT INTO rooms ({_ROOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (id) DO NOTHING"
        )
        if await self._call("execute", query, *codec.room_row(room)) == "INSERT 0 0":
            raise StoreError(f"room {room.id!r} already exists")
        return room

    async def get_room(self, room_id: str) -> Room | None:
        query = f"SELECT {_ROOM_COLUMNS} FROM rooms WHERE id = $1"
        row = await self._call("fetchrow", query, room_id)
        return None if row is None else codec.room_from_row(row)

    async def update_room(self, room: Room) -> Room:
        query = (
            "UPDATE rooms SET status = $2, metadata = $3, created_at = $4, closed_at = $5"
            " WHERE id = $1"
        )
        if await self._call("execute", query, *codec.room_row(room)) == "UPDATE 0":
            raise RoomNotFoundError(f"room {room.id!r} does not exist")
        return room

    async def list_rooms(self, offset: int = 0, limit: int = 50) -> list[Room]:
        query = f"SELECT {_ROOM_COLUMNS} FROM rooms ORDER BY seq LIMIT $1 OFFSET $2"
        return [codec.room_from_row(row) for row in await self._call("fetch", query, limit, offset)]

    # channel bindings
    async def add_binding(self, binding: ChannelBinding) -> None:
        query = (
            f"INSERT INTO bindings ({_BINDING_COLUMNS}) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (room_id, channel_id) DO UPDATE"
            " SET channel_type = excluded.channel_type, attached_at = excluded.attached_at"
        )
        try:
            await self._call("execute", query, *codec.binding_row(binding))
        except asyncpg.ForeignKeyViolationError:
            raise RoomNotFoundError(f"room {binding.room_id!r} does not exist") from None

    async def remove_binding(self, room_id: str, channel_id: str) -> bool:
        query = (
            "WITH gone AS (DELETE FROM bindings WHERE room_id = $1 AND channel_id = $2 RETURNING 1)"
            " SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1), EXISTS (SELECT 1 FROM gone)"
        )
        room_exists, removed = await self._call("fetchrow", query, room_id, channel_id)
        if not room_exists:
            raise RoomNotFoundError(f"room {room_id!r} does not exist")
        return bool(removed)

    async def list_bindings(self, room_id: str) -> list[ChannelBinding]:
        columns = ", ".join(f"b.{name.strip()}" for name in _BINDING_COLUMNS.split(","))
        query = (
            f"SELECT {columns} FROM rooms r LEFT JOIN bindings b ON b.room_id = r.id"
            " WHERE r.id = $1 ORDER BY b.seq"
        )
        rows = await self._call("fetch", query, room_id)
        if not rows:
            raise RoomNotFoundError(f"room {room_id!r} does not exist")
        return [codec.binding_from_row(row) for row in rows if row[1] is not None]

    # events
    async def add_event(self, event: RoomEvent) -> RoomEvent:
        row = codec.event_row(event)
        del row[2]  # the index comes from the room's counter
        try:
            index = await self._call("fetchval", _INSERT_EVENT, *row)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "events_pkey":
                raise
            raise StoreError(f"event {event.id!r} already exists") from None
        if index is None:
            raise RoomNotFoundError(f"room {event.room_id!r} does not exist")
        return event.copy(index=index)

    async def get_event(self, event_id: str) -> RoomEvent | None:
        row = await self._call("fetchrow", f"{_SELECT_EVENTS} WHERE id = $1", event_id)
        return None if row is None else codec.event_from_row(row)

    async def list_events(
        self,
        room_id: str,
        offset: int = 0,
        limit: int = 50,
        visibility_filter: str | None = None,
    ) -> list[RoomEvent]:
        if visibility_filter is None:
            query = f"{_SELECT_EVENTS} WHERE room_id = $1 ORDER BY idx LIMIT $2 OFFSET $3"
            rows = await self._call("fetch", query, room_id, limit, offset)
        else:
            query = (
                f"{_SELECT_EVENTS} WHERE room_id = $1 AND visibility = $4"
                " ORDER BY idx LIMIT $2 OFFSET $3"
            )
            rows = await self._call("fetch", query, room_id, limit, offset, str(visibility_filter))
        return [codec.event_from_row(row) for row in rows]

    async def count_events(self, room_id: str) -> int:
        query = "SELECT next_index FROM rooms WHERE id = $1"
        count: int | None = await self._call("fetchval", query, room_id)
        return count or 0

    # read markers
    async def mark_read(self, room_id: str, channel_id: str, event_id: str) -> None:
        query = (
            "INSERT INTO read_markers (room_id, channel_id, idx)"
            " SELECT room_id, $2, idx FROM events WHERE id = $3 AND room_id = $1" + _RAISE_MARKER
        )
        await self._call("execute", query, room_id, channel_id, event_id)

    async def mark_all_read(self, room_id: str, channel_id: str) -> None:
        query = (
            "INSERT INTO read_markers (room_id, channel_id, idx)"
            " SELECT id, $2, next_index - 1 FROM rooms WHERE id = $1 AND next_index > 0"
            + _RAISE_MARKER
        )
        await self._call("execute", query, room_id, channel_id)

    async def get_unread_count(self, room_id: str, channel_id: str) -> int:
        query = (
            "SELECT r.next_index - 1 - COALESCE(m.idx, -1) FROM rooms r"
            " LEFT JOIN read_markers m ON m.room_id = r.id AND m.channel_id = $2"
            " WHERE r.id = $1"
        )
        unread: int | None = await self._call("fetchval", query, room_id, channel_id)
        return unread or 0

    # tasks and observations
    async def add_task(self, task: Task) -> Task:
        query = (
            f"INSERT INTO tasks ({_TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            f" ON CONFLICT (id) DO UPDATE SET {_TASK_ASSIGNMENTS}"
        )
        await self._call("execute", query, *codec.task_row(task))
        return task

    async def update_task(self, task: Task) -> Task:
        query = f"UPDATE tasks SET {_TASK_ASSIGNMENTS} WHERE id = $1"
        if await self._call("execute", query, *codec.task_row(task)) == "UPDATE 0":
            raise StoreError(f"task {task.id!r} does not exist")
        return task

    async def list_tasks(self, room_id: str, status: TaskStatus | None = None) -> list[Task]:
        query = f"SELECT {_TASK_COLUMNS} FROM tasks WHERE room_id = $1"
        if status is None:
            rows = await self._call("fetch", f"{query} ORDER BY seq", room_id)
        else:
            query += " AND status = $2 ORDER BY seq"
            rows = await self._call("fetch", query, room_id, status.value)
        return [codec.task_from_row(row) for row in rows]

    async def add_observation(self, observation: Observation) -> Observation:
        query = f"INSERT INTO observations ({_OBSERVATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        await self._call("execute", query, *codec.observation_row(observation))
        return observation

    async def list_observations(self, room_id: str) -> list[Observation]:
        query = f"SELECT {_OBSERVATION_COLUMNS} FROM observations WHERE room_id = $1 ORDER BY seq"
        rows = await self._call("fetch", query, room_id)
        return [codec.observation_from_row(row) for row in rows]


async def _keep_session(connection: Any) -> None:
    """Nothing to reset when a connection goes back to the pool: the store changes no session
    state (no LISTEN, advisory lock, cursor or SET). asyncpg's default reset costs a round
    trip to the server per query; it still rolls back a transaction left open."""


async def _init_connection(connection: Any) -> None:
    """Moments travel as ISO-8601 text (the session's zone is UTC), as the codec expects."""
    await connection.set_type_codec(
        "timestamptz", schema="pg_catalog", encoder=str, decoder=str, format="text"
    )

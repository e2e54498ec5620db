"""The tables of the PostgreSQL store, versioned in ``schema_version``.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``. Column names
and order match the SQLite store, so both share :mod:`voicegate.store.codec`.
JSON values are JSONB, moments TIMESTAMPTZ; each room row carries ``next_index``,
the index its next event gets.
"""

from __future__ import annotations

from typing import Any

from voicegate.core.store import StoreError

# Taken for the transaction that migrates, so processes opening at once do not race.
_MIGRATION_LOCK_KEY = 0x766F69636567  # "voiceg"

_VERSION_1 = """
CREATE TABLE rooms (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY, status TEXT NOT NULL, metadata JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL, closed_at TIMESTAMPTZ,
    next_index BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE bindings (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    channel_id TEXT NOT NULL, channel_type TEXT NOT NULL, attached_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (room_id, channel_id)
);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, blocked_by TEXT,
    visibility TEXT NOT NULL, response_visibility TEXT, chain_depth INTEGER NOT NULL,
    channel_id TEXT NOT NULL, channel_type TEXT NOT NULL, participant_id TEXT, provider TEXT,
    content JSONB NOT NULL, metadata JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (room_id, idx)
);
CREATE INDEX events_by_visibility ON events (room_id, visibility, idx);
CREATE TABLE read_markers (
    room_id TEXT NOT NULL, channel_id TEXT NOT NULL, idx BIGINT NOT NULL,
    PRIMARY KEY (room_id, channel_id)
);
CREATE TABLE tasks (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY, room_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    result JSONB NOT NULL, error TEXT, metadata JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ
);
CREATE INDEX tasks_by_room ON tasks (room_id, seq);
CREATE TABLE observations (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT PRIMARY KEY, room_id TEXT NOT NULL, kind TEXT NOT NULL, data JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX observations_by_room ON observations (room_id, seq);
"""

_VERSION_2 = """
ALTER TABLE events ADD COLUMN response_id TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_VERSION_1, _VERSION_2)


async def migrate(connection: Any) -> int:
    """Bring the database to the newest schema version (idempotent); returns that version.

    ``connection`` is an asyncpg connection. A database written by a newer
    voicegate is refused with a ``StoreError``.
    """
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK_KEY)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
        )
        current: int = await connection.fetchval(
            "SELECT COALESCE(MAX(version), 0) FROM schema_version"
        )
        if current > len(MIGRATIONS):
            raise StoreError(
                f"the database has schema version {current}; this voicegate knows"
                f" versions up to {len(MIGRATIONS)}: upgrade voicegate"
            )
        for version in range(current + 1, len(MIGRATIONS) + 1):
            await connection.execute(MIGRATIONS[version - 1])
            await connection.execute("INSERT INTO schema_version VALUES ($1)", version)
    return len(MIGRATIONS)

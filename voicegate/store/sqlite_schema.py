"""The tables of the SQLite store, versioned in ``PRAGMA user_version``.

``MIGRATIONS[n]`` takes a database from version ``n`` to ``n + 1``. Version 1 is the
schema voicegate created before it kept a version, written so that it also runs on
such a database (found at version 0) without changing it.
"""

from __future__ import annotations

import sqlite3

from voicegate.core.store import StoreError

_VERSION_1 = """
CREATE TABLE IF NOT EXISTS rooms (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, metadata TEXT NOT NULL,
    created_at TEXT NOT NULL, closed_at TEXT
);
CREATE TABLE IF NOT EXISTS bindings (
    room_id TEXT NOT NULL, channel_id TEXT NOT NULL, channel_type TEXT NOT NULL,
    attached_at TEXT NOT NULL, PRIMARY KEY (room_id, channel_id)
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, room_id TEXT NOT NULL, idx INTEGER NOT NULL, type TEXT NOT NULL,
    status TEXT NOT NULL, blocked_by TEXT, visibility TEXT NOT NULL, response_visibility TEXT,
    chain_depth INTEGER NOT NULL, channel_id TEXT NOT NULL, channel_type TEXT NOT NULL,
    participant_id TEXT, provider TEXT, content TEXT NOT NULL, metadata TEXT NOT NULL,
    created_at TEXT NOT NULL, UNIQUE (room_id, idx)
);
CREATE TABLE IF NOT EXISTS read_markers (
    room_id TEXT NOT NULL, channel_id TEXT NOT NULL, idx INTEGER NOT NULL,
    PRIMARY KEY (room_id, channel_id)
);
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, room_id TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    result TEXT NOT NULL, error TEXT, metadata TEXT NOT NULL, created_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX IF NOT EXISTS tasks_by_room ON tasks (room_id);
CREATE TABLE IF NOT EXISTS observations (
    id TEXT PRIMARY KEY, room_id TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_by_room ON observations (room_id);
"""

_VERSION_2 = """
ALTER TABLE events ADD COLUMN response_id TEXT;
"""

MIGRATIONS: tuple[str, ...] = (_VERSION_1, _VERSION_2)


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the database to the newest schema version (idempotent); returns that version.

    Each step commits with its new version number, so an interrupted upgrade resumes
    where it stopped. A database written by a newer voicegate is refused with a
    ``StoreError``.
    """
    current: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if current > len(MIGRATIONS):
        raise StoreError(
            f"the database has schema version {current}; this voicegate knows"
            f" versions up to {len(MIGRATIONS)}: upgrade voicegate"
        )
    for version in range(current + 1, len(MIGRATIONS) + 1):
        connection.executescript(
            f"BEGIN; {MIGRATIONS[version - 1]} PRAGMA user_version = {version}; COMMIT;"
        )
    return len(MIGRATIONS)

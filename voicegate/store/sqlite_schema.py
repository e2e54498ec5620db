"""The tables of the SQLite store."""

SCHEMA = """
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

"""What only the SQLite store promises: persistence, durability, clear failures."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from voicegate.core.models import (
    ChannelBinding,
    ChannelType,
    EventSource,
    Observation,
    Room,
    RoomEvent,
    Task,
    TaskStatus,
    TextContent,
)
from voicegate.core.store import StoreError
from voicegate.store import codec
from voicegate.store.sqlite import SQLiteStore
from voicegate.store.sqlite_schema import MIGRATIONS
from voicegate.store.sqlite_worker import SQLiteWorker

STAMP = "2024-05-06T07:08:09+00:00"


def message(room_id: str, body: str = "hi", **metadata: object) -> RoomEvent:
    return RoomEvent(
        room_id=room_id,
        source=EventSource(channel_id="ws", channel_type=ChannelType.WEBSOCKET),
        content=TextContent(body=body),
        metadata=dict(metadata),
    )


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "rooms.db"
    store = SQLiteStore(path)
    room = await store.create_room(Room(id="r1", metadata={"a": 1}))
    binding = ChannelBinding(room_id="r1", channel_id="ws", channel_type=ChannelType.WEBSOCKET)
    await store.add_binding(binding)
    events = [await store.add_event(message("r1", str(i))) for i in range(3)]
    await store.mark_read("r1", "ws", events[0].id)
    task = await store.add_task(Task(room_id="r1", name="t", status=TaskStatus.RUNNING))
    observation = await store.add_observation(Observation(room_id="r1", kind="note"))
    await store.close()

    reopened = SQLiteStore(path)
    assert await reopened.get_room("r1") == room
    assert await reopened.list_bindings("r1") == [binding]
    assert await reopened.list_events("r1") == events
    assert await reopened.get_unread_count("r1", "ws") == 2
    assert await reopened.list_tasks("r1", TaskStatus.RUNNING) == [task]
    assert await reopened.list_observations("r1") == [observation]
    assert (await reopened.add_event(message("r1"))).index == 3, "indexes go on gap-free"
    await reopened.close()


async def test_an_awaited_write_is_committed_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "rooms.db"
    store = SQLiteStore(path)
    await store.create_room(Room(id="r1"))
    event = await store.add_event(message("r1"))
    with sqlite3.connect(path) as other:
        row = other.execute("SELECT room_id, idx FROM events WHERE id=?", (event.id,)).fetchone()
        (journal_mode,) = other.execute("PRAGMA journal_mode").fetchone()
    assert row == ("r1", 0)
    assert journal_mode == "wal"
    await store.close()


async def test_the_database_is_worked_off_the_event_loop(tmp_path: Path) -> None:
    worker = SQLiteWorker(str(tmp_path / "w.db"), setup=lambda _: None, after_rollback=print)
    names = [await worker.call(lambda _: threading.current_thread().name) for _ in range(2)]
    assert names[0] == names[1]
    assert names[0] != threading.main_thread().name
    await worker.close()


async def test_a_failing_write_in_a_batch_fails_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "rooms.db")
    await store.create_room(Room(id="r1"))
    duplicate = message("r1")
    results = await asyncio.gather(
        store.add_event(message("r1")),
        store.add_event(duplicate),
        store.add_event(duplicate),
        store.add_event(message("r1")),
        return_exceptions=True,
    )
    assert isinstance(results[2], sqlite3.IntegrityError)
    assert [e.index for e in results if isinstance(e, RoomEvent)] == [0, 1, 2]
    with pytest.raises(sqlite3.IntegrityError):
        await store.add_event(duplicate)
    assert (await store.add_event(message("r1"))).index == 3
    assert [e.index for e in await store.list_events("r1")] == [0, 1, 2, 3]
    await store.close()


async def test_unserialisable_metadata_is_a_clear_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "rooms.db")
    await store.create_room(Room(id="r1"))
    with pytest.raises(StoreError, match="event metadata cannot be stored"):
        await store.add_event(message("r1", when=object()))
    assert await store.count_events("r1") == 0
    await store.close()


async def test_unopenable_path_is_a_clear_error(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "no" / "such" / "dir" / "rooms.db")
    with pytest.raises(StoreError, match="cannot open SQLite database"):
        await store.open()
    with pytest.raises(StoreError, match="cannot open SQLite database"):
        await store.get_room("r1")
    await store.close()


async def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "rooms.db")
    await store.open()
    await store.close()
    with pytest.raises(StoreError, match="is closed"):
        await store.get_room("r1")


async def test_a_database_without_a_schema_version_gains_response_ids(tmp_path: Path) -> None:
    path = tmp_path / "rooms.db"
    with sqlite3.connect(path) as old:  # what voicegate wrote before the schema had versions
        old.executescript(MIGRATIONS[0])
        old.execute("INSERT INTO rooms VALUES ('r1', 'active', '{}', ?, NULL)", (STAMP,))
        old.execute(
            "INSERT INTO events VALUES ('e0', 'r1', 0, 'message', 'delivered', NULL, 'all',"
            " NULL, 0, 'ws', 'websocket', NULL, NULL, ?, '{}', ?)",
            (codec.content_to_json(TextContent(body="old")), STAMP),
        )
    store = SQLiteStore(path)
    old_event = await store.get_event("e0")
    new_event = await store.add_event(message("r1").copy(response_id="answer-1"))
    await store.close()

    assert old_event is not None
    assert (old_event.content, old_event.response_id) == (TextContent(body="old"), None)
    assert (new_event.index, new_event.response_id) == (1, "answer-1")
    with sqlite3.connect(path) as migrated:
        assert migrated.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    reopened = SQLiteStore(path)  # opening again migrates nothing
    assert [e.response_id for e in await reopened.list_events("r1")] == [None, "answer-1"]
    await reopened.close()


async def test_a_database_from_a_newer_voicegate_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rooms.db"
    await SQLiteStore(path).open()
    with sqlite3.connect(path) as newer:
        newer.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    store = SQLiteStore(path)
    with pytest.raises(StoreError, match=f"schema version {len(MIGRATIONS) + 1}"):
        await store.open()
    await store.close()

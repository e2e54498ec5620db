"""What only the PostgreSQL store promises: shared state, a versioned schema, clear failures."""

from __future__ import annotations

import asyncio

import pytest

from tests.postgres.server import PostgresServer, running_postgres
from voicegate import RoomKit, TextContent, WebSocketChannel
from voicegate.core.models import ChannelType, EventSource, Room, RoomEvent
from voicegate.core.store import StoreError
from voicegate.store import codec
from voicegate.store.postgres import PostgresStore, redact
from voicegate.store.postgres_schema import MIGRATIONS


def message(room_id: str, **metadata: object) -> RoomEvent:
    return RoomEvent(
        room_id=room_id,
        source=EventSource(channel_id="ws", channel_type=ChannelType.WEBSOCKET),
        content=TextContent(body="hi"),
        metadata=dict(metadata),
    )


async def test_two_stores_on_one_database_share_a_gap_free_timeline(postgres_dsn: str) -> None:
    first, second = PostgresStore(postgres_dsn), PostgresStore(postgres_dsn, max_size=3)
    await first.create_room(Room(id="r1"))
    committed = await asyncio.gather(
        *(store.add_event(message("r1")) for _ in range(40) for store in (first, second))
    )
    assert sorted(e.index for e in committed) == list(range(80))
    timeline = await second.list_events("r1", limit=100)
    assert [e.index for e in timeline] == list(range(80))
    assert {e.id for e in timeline} == {e.id for e in committed}
    assert await first.count_events("r1") == 80
    await first.close()
    await second.close()


async def test_everything_survives_a_new_store(postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn)
    room = await store.create_room(Room(id="r1", metadata={"a": [1, "x"]}))
    events = [await store.add_event(message("r1", n=i)) for i in range(3)]
    await store.mark_read("r1", "ws", events[0].id)
    await store.close()

    reopened = PostgresStore(postgres_dsn)
    assert await reopened.get_room("r1") == room
    assert await reopened.list_events("r1") == events
    assert await reopened.get_unread_count("r1", "ws") == 2
    assert (await reopened.add_event(message("r1"))).index == 3
    await reopened.close()


async def test_schema_is_versioned_jsonb_and_indexed(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    for _ in range(2):  # open is idempotent: the second open migrates nothing
        store = PostgresStore(postgres_dsn)
        await store.open()
        await store.create_room(Room(id=f"r{_}"))
        await store.add_event(message(f"r{_}", k={"nested": True}))
        await store.close()
    database = postgres_dsn.rsplit("/", 1)[1]
    versions = postgres_server.psql("SELECT version FROM schema_version ORDER BY version", database)
    assert versions.split() == [str(v) for v in range(1, len(MIGRATIONS) + 1)]
    kinds = postgres_server.psql(
        "SELECT jsonb_typeof(content), jsonb_typeof(metadata -> 'k') FROM events", database
    )
    assert kinds.splitlines() == ["array|object", "array|object"]
    indexes = postgres_server.psql(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'events'", database
    )
    assert "(room_id, idx)" in indexes
    assert "(room_id, visibility, idx)" in indexes


async def test_a_database_from_a_newer_voicegate_is_refused(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    await PostgresStore(postgres_dsn).open()
    database = postgres_dsn.rsplit("/", 1)[1]
    postgres_server.psql(f"INSERT INTO schema_version VALUES ({len(MIGRATIONS) + 1})", database)
    store = PostgresStore(postgres_dsn)
    known = len(MIGRATIONS)
    with pytest.raises(
        StoreError, match=f"schema version {known + 1}; this voicegate knows versions up to {known}"
    ):
        await store.open()
    await store.close()


async def test_a_version_1_database_gains_response_ids_and_keeps_its_events(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    database = postgres_dsn.rsplit("/", 1)[1]
    content = codec.content_to_json(TextContent(body="old"))
    postgres_server.psql(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);"
        f"{MIGRATIONS[0]} INSERT INTO schema_version VALUES (1);"
        "INSERT INTO rooms (id, status, metadata, created_at, next_index)"
        " VALUES ('r1', 'active', '{}', '2024-05-06T07:08:09+00:00', 1);"
        "INSERT INTO events (id, room_id, idx, type, status, visibility, chain_depth,"
        " channel_id, channel_type, content, metadata, created_at) VALUES ('e0', 'r1', 0,"
        f" 'message', 'delivered', 'all', 0, 'ws', 'websocket', '{content}', '{{}}',"
        " '2024-05-06T07:08:09+00:00');",
        database,
    )
    store = PostgresStore(postgres_dsn)
    old = await store.get_event("e0")
    new = await store.add_event(message("r1").copy(response_id="answer-1"))
    await store.close()
    assert old is not None
    assert old.response_id is None
    assert old.content == TextContent(body="old")
    assert (new.index, new.response_id) == (1, "answer-1")
    versions = postgres_server.psql("SELECT MAX(version) FROM schema_version", database)
    assert versions.split() == [str(len(MIGRATIONS))]


async def test_unreachable_server_is_a_clear_error_without_the_password(
    postgres_server: PostgresServer,
) -> None:
    closed_port = postgres_server.port + 1 if postgres_server.port < 65535 else 1
    dsn = f"postgresql://alice:s3cret-pw@127.0.0.1:{closed_port}/rooms"
    store = PostgresStore(dsn, connect_timeout=5)
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL at") as raised:
        await store.open()
    assert "s3cret-pw" not in str(raised.value)
    assert f"alice@127.0.0.1:{closed_port}/rooms" in str(raised.value)
    await store.close()


async def test_unknown_database_is_a_clear_error(postgres_server: PostgresServer) -> None:
    store = PostgresStore(postgres_server.dsn("no_such_database"))
    with pytest.raises(StoreError, match=r'cannot connect.*"no_such_database" does not exist'):
        await store.get_room("r1")
    await store.close()


def test_redact_drops_the_password_wherever_it_is() -> None:
    assert redact("postgresql://u:pw@h:5432/db?password=pw&sslmode=off") == (
        "postgresql://u@h:5432/db?sslmode=off"
    )
    assert redact("postgresql://h/db") == "postgresql://h/db"


async def test_a_closed_store_refuses_work(postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn)
    await store.open()
    await store.close()
    with pytest.raises(StoreError, match="is closed"):
        await store.get_room("r1")
    with pytest.raises(StoreError, match="is closed"):
        await store.open()


async def test_values_postgres_refuses_are_a_clear_error(postgres_dsn: str) -> None:
    store = PostgresStore(postgres_dsn)
    await store.create_room(Room(id="r1"))
    with pytest.raises(StoreError, match="PostgreSQL refused a value"):
        await store.add_event(message("r1", text="nul \x00 byte"))
    duplicate = await store.add_event(message("r1"))
    with pytest.raises(StoreError, match="already exists"):
        await store.add_event(duplicate)
    assert [e.index for e in await store.list_events("r1")] == [0], "a failed insert leaves no gap"
    assert (await store.add_event(message("r1"))).index == 1
    await store.close()


async def test_a_server_that_goes_away_is_a_clear_error() -> None:
    with running_postgres() as server:
        store = PostgresStore(server.create_database())
        await store.create_room(Room(id="r1"))
    with pytest.raises(StoreError, match="lost the connection to PostgreSQL"):
        await store.get_room("r1")
    await store.close()


async def test_kit_on_postgres_keeps_history_across_kits(postgres_dsn: str) -> None:
    async with RoomKit(store=PostgresStore(postgres_dsn)) as kit:
        kit.register_channel(WebSocketChannel("ws"))
        room = await kit.create_room(room_id="r1")
        await kit.attach_channel(room.id, "ws")
        sent = [await kit.send_event(room.id, "ws", TextContent(body=f"m{i}")) for i in range(3)]
    async with RoomKit(store=PostgresStore(postgres_dsn)) as kit:
        timeline = await kit.get_timeline("r1")
    assert [(e.id, e.index, e.content) for e in timeline] == [
        (e.id, i, TextContent(body=f"m{i}")) for i, e in enumerate(sent)
    ]

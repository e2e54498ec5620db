"""The contract every ConversationStore fulfils, run against each store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from voicegate.core.models import (
    AudioContent,
    ChannelBinding,
    ChannelType,
    EventSource,
    EventStatus,
    EventType,
    Observation,
    Room,
    RoomEvent,
    RoomStatus,
    SystemContent,
    Task,
    TaskStatus,
    TextContent,
    Visibility,
)
from voicegate.core.store import ConversationStore, StoreError
from voicegate.errors import RoomNotFoundError


def message(room_id: str, body: str = "hi", **changes: object) -> RoomEvent:
    """A text message from the WebSocket channel ``ws``."""
    event = RoomEvent(
        room_id=room_id,
        source=EventSource(channel_id="ws", channel_type=ChannelType.WEBSOCKET),
        content=TextContent(body=body),
    )
    return event.copy(**changes)


async def rooms(store: ConversationStore, *room_ids: str) -> None:
    for room_id in room_ids:
        await store.create_room(Room(id=room_id))


# rooms
async def test_room_round_trip_and_update(store: ConversationStore) -> None:
    room = Room(id="r1", metadata={"topic": "support", "n": [1, 2]})
    assert await store.create_room(room) == room
    assert await store.get_room("r1") == room
    closed = Room(
        id="r1",
        status=RoomStatus.CLOSED,
        metadata={},
        created_at=room.created_at,
        closed_at=datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )
    await store.update_room(closed)
    assert await store.get_room("r1") == closed
    assert await store.get_room("missing") is None


async def test_room_errors(store: ConversationStore) -> None:
    await rooms(store, "r1")
    with pytest.raises(StoreError, match="already exists"):
        await store.create_room(Room(id="r1"))
    with pytest.raises(RoomNotFoundError):
        await store.update_room(Room(id="missing"))


async def test_list_rooms_in_creation_order_with_offset_and_limit(
    store: ConversationStore,
) -> None:
    await rooms(store, *(f"r{i}" for i in range(5)))
    assert [r.id for r in await store.list_rooms()] == ["r0", "r1", "r2", "r3", "r4"]
    assert [r.id for r in await store.list_rooms(offset=1, limit=2)] == ["r1", "r2"]


# bindings
async def test_bindings(store: ConversationStore) -> None:
    await rooms(store, "r1", "r2")
    ws = ChannelBinding(room_id="r1", channel_id="ws", channel_type=ChannelType.WEBSOCKET)
    ai = ChannelBinding(room_id="r1", channel_id="ai", channel_type=ChannelType.AI)
    await store.add_binding(ws)
    await store.add_binding(ai)
    await store.add_binding(ws)
    assert await store.list_bindings("r1") == [ws, ai]
    assert await store.list_bindings("r2") == []
    assert await store.remove_binding("r1", "ws") is True
    assert await store.remove_binding("r1", "ws") is False
    assert await store.list_bindings("r1") == [ai]


async def test_binding_to_unknown_room_is_refused(store: ConversationStore) -> None:
    binding = ChannelBinding(room_id="nope", channel_id="ws", channel_type=ChannelType.WEBSOCKET)
    with pytest.raises(RoomNotFoundError):
        await store.add_binding(binding)


# events
async def test_indexes_are_per_room_from_zero_and_gap_free(store: ConversationStore) -> None:
    await rooms(store, "a", "b")
    committed = [await store.add_event(message(room)) for room in "aabab"]
    assert [(e.room_id, e.index) for e in committed] == [
        ("a", 0),
        ("a", 1),
        ("b", 0),
        ("a", 2),
        ("b", 1),
    ]
    assert await store.count_events("a") == 3
    assert await store.count_events("b") == 2


async def test_concurrent_writes_never_share_an_index(store: ConversationStore) -> None:
    await rooms(store, "a", "b", "c")
    committed = await asyncio.gather(*(store.add_event(message("abc"[i % 3])) for i in range(90)))
    for room in "abc":
        indexes = sorted(e.index for e in committed if e.room_id == room)
        assert indexes == list(range(30))
        stored = await store.list_events(room, limit=100)
        assert [e.index for e in stored] == list(range(30))


async def test_event_for_unknown_room_is_refused(store: ConversationStore) -> None:
    with pytest.raises(RoomNotFoundError):
        await store.add_event(message("nope"))


@pytest.mark.parametrize(
    "content",
    [
        TextContent(body="héllo ✓", language="fr"),
        AudioContent(url="file:///a.wav", duration_seconds=1.5, transcript="hi"),
        SystemContent(body="joined", code="join", data={"who": ["x", 1, None]}),
    ],
)
async def test_every_field_round_trips(store: ConversationStore, content: object) -> None:
    await rooms(store, "r1")
    event = RoomEvent(
        room_id="r1",
        source=EventSource(
            channel_id="sms", channel_type=ChannelType.SMS, participant_id="p1", provider="twilio"
        ),
        content=content,  # type: ignore[arg-type]
        type=EventType.SYSTEM,
        status=EventStatus.BLOCKED,
        blocked_by="moderation",
        visibility="ai,ws",
        response_visibility=Visibility.TRANSPORT,
        chain_depth=3,
        metadata={"k": {"nested": [1.5, True]}},
        created_at=datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC),
        response_id="answer-1",
    )
    committed = await store.add_event(event)
    assert committed == event.copy(index=0)
    assert await store.get_event(event.id) == committed
    assert await store.list_events("r1") == [committed]
    assert await store.get_event("missing") is None


async def test_timeline_order_offset_limit_and_visibility(store: ConversationStore) -> None:
    await rooms(store, "r1")
    for i in range(10):
        visibility = Visibility.INTERNAL if i % 3 == 0 else Visibility.ALL
        await store.add_event(message("r1", body=str(i), visibility=visibility))
    bodies = [e.content.body for e in await store.list_events("r1")]  # type: ignore[union-attr]
    assert bodies == [str(i) for i in range(10)]
    page = await store.list_events("r1", offset=2, limit=3)
    assert [e.index for e in page] == [2, 3, 4]
    internal = await store.list_events("r1", visibility_filter=Visibility.INTERNAL)
    assert [e.index for e in internal] == [0, 3, 6, 9]
    internal_page = await store.list_events(
        "r1", offset=1, limit=2, visibility_filter=Visibility.INTERNAL
    )
    assert [e.index for e in internal_page] == [3, 6]
    assert await store.list_events("other") == []


# read markers
async def test_read_markers_and_unread_counts(store: ConversationStore) -> None:
    await rooms(store, "r1", "r2")
    events = [await store.add_event(message("r1")) for _ in range(5)]
    other_room_event = await store.add_event(message("r2"))
    assert await store.get_unread_count("r1", "ws") == 5
    await store.mark_read("r1", "ws", events[2].id)
    assert await store.get_unread_count("r1", "ws") == 2
    await store.mark_read("r1", "ws", events[0].id)
    assert await store.get_unread_count("r1", "ws") == 2, "a read marker never moves back"
    await store.mark_read("r1", "ws", other_room_event.id)
    await store.mark_read("r1", "ws", "missing")
    assert await store.get_unread_count("r1", "ws") == 2
    assert await store.get_unread_count("r1", "ai") == 5, "markers are per channel"
    await store.mark_all_read("r1", "ws")
    assert await store.get_unread_count("r1", "ws") == 0
    await store.add_event(message("r1"))
    assert await store.get_unread_count("r1", "ws") == 1
    assert await store.get_unread_count("r2", "ws") == 1


# tasks and observations
async def test_tasks_add_update_and_list_by_status(store: ConversationStore) -> None:
    first = await store.add_task(Task(room_id="r1", name="lookup", metadata={"q": "x"}))
    second = await store.add_task(Task(room_id="r1", name="summarise"))
    await store.add_task(Task(room_id="r2", name="elsewhere"))
    done = Task(
        id=first.id,
        room_id="r1",
        name="lookup",
        status=TaskStatus.COMPLETED,
        result={"answer": 42},
        metadata={"q": "x"},
        created_at=first.created_at,
        completed_at=datetime(2031, 1, 1, tzinfo=UTC),
    )
    await store.update_task(done)
    assert await store.list_tasks("r1") == [done, second]
    assert await store.list_tasks("r1", TaskStatus.COMPLETED) == [done]
    assert await store.list_tasks("r1", TaskStatus.PENDING) == [second]
    assert await store.list_tasks("r1", TaskStatus.FAILED) == []
    with pytest.raises(StoreError, match="does not exist"):
        await store.update_task(Task(room_id="r1", name="ghost"))


async def test_observations_per_room_in_order(store: ConversationStore) -> None:
    kinds = ["chain_depth_exceeded", "note", "other"]
    added = [await store.add_observation(Observation(room_id="r1", kind=k)) for k in kinds]
    await store.add_observation(Observation(room_id="r2", kind="x", data={"a": [1]}))
    assert await store.list_observations("r1") == added
    assert [o.data for o in await store.list_observations("r2")] == [{"a": [1]}]
    assert await store.list_observations("none") == []


async def test_close_is_idempotent(store_factory: Callable[[], ConversationStore]) -> None:
    store = store_factory()
    await store.create_room(Room(id="r1"))
    await store.close()
    await store.close()

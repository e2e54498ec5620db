"""Rows of the SQL stores (SQLite, PostgreSQL): the model <-> row conversions.

Compact and exact: enums as their values, datetimes as ISO-8601 strings, JSON
values as JSON text, contents as JSON tagged with their class so every content
type round-trips unchanged. Both stores use the same column names and order.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import Any

from voicegate.core.models import (
    AudioContent,
    ChannelBinding,
    ChannelType,
    EventContent,
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
)
from voicegate.core.store import StoreError

EVENT_COLUMNS = (
    "id, room_id, idx, type, status, blocked_by, visibility, response_visibility, chain_depth,"
    " channel_id, channel_type, participant_id, provider, content, metadata, created_at,"
    " response_id"
)

_CONTENT_CLASSES: dict[str, type[EventContent]] = {
    "text": TextContent,
    "audio": AudioContent,
    "system": SystemContent,
}
_CONTENT_TAGS: dict[type, str] = {cls: tag for tag, cls in _CONTENT_CLASSES.items()}
_CONTENT_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls)) for cls in _CONTENT_CLASSES.values()
}


def to_json(value: Any, what: str) -> str:
    """``value`` as compact JSON; a clear ``StoreError`` when it is not JSON-serialisable."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} cannot be stored: it is not JSON-serialisable ({exc})") from exc


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def content_to_json(content: EventContent) -> str:
    """The content as ``[tag, {field: value}]``."""
    cls = type(content)
    tag = _CONTENT_TAGS.get(cls)
    if tag is None:
        raise StoreError(f"event content of type {cls.__name__} cannot be stored")
    values = {name: getattr(content, name) for name in _CONTENT_FIELDS[cls]}
    return to_json([tag, values], "event content")


def content_from_json(text: str) -> EventContent:
    """The inverse of :func:`content_to_json`."""
    tag, values = json.loads(text)
    return _CONTENT_CLASSES[tag](**values)


def event_row(event: RoomEvent) -> list[Any]:
    """The event's columns in ``EVENT_COLUMNS`` order; ``idx`` is left for the store to set."""
    source = event.source
    return [
        event.id,
        event.room_id,
        None,
        event.type.value,
        event.status.value,
        event.blocked_by,
        str(event.visibility),
        None if event.response_visibility is None else str(event.response_visibility),
        event.chain_depth,
        source.channel_id,
        source.channel_type.value,
        source.participant_id,
        source.provider,
        content_to_json(event.content),
        to_json(event.metadata, "event metadata"),
        event.created_at.isoformat(),
        event.response_id,
    ]


def event_from_row(row: tuple[Any, ...]) -> RoomEvent:
    """A ``RoomEvent`` from a row selected with ``EVENT_COLUMNS``."""
    return RoomEvent(
        id=row[0],
        room_id=row[1],
        index=row[2],
        type=EventType(row[3]),
        status=EventStatus(row[4]),
        blocked_by=row[5],
        visibility=row[6],
        response_visibility=row[7],
        chain_depth=row[8],
        source=EventSource(
            channel_id=row[9],
            channel_type=ChannelType(row[10]),
            participant_id=row[11],
            provider=row[12],
        ),
        content=content_from_json(row[13]),
        metadata=json.loads(row[14]),
        created_at=datetime.fromisoformat(row[15]),
        response_id=row[16],
    )


def room_row(room: Room) -> tuple[Any, ...]:
    """Columns ``id, status, metadata, created_at, closed_at``."""
    return (
        room.id,
        room.status.value,
        to_json(room.metadata, "room metadata"),
        room.created_at.isoformat(),
        _iso(room.closed_at),
    )


def room_from_row(row: tuple[Any, ...]) -> Room:
    """The inverse of :func:`room_row`."""
    return Room(
        id=row[0],
        status=RoomStatus(row[1]),
        metadata=json.loads(row[2]),
        created_at=datetime.fromisoformat(row[3]),
        closed_at=_moment(row[4]),
    )


def binding_row(binding: ChannelBinding) -> tuple[Any, ...]:
    """Columns ``room_id, channel_id, channel_type, attached_at``."""
    return (
        binding.room_id,
        binding.channel_id,
        binding.channel_type.value,
        binding.attached_at.isoformat(),
    )


def binding_from_row(row: tuple[Any, ...]) -> ChannelBinding:
    """The inverse of :func:`binding_row`."""
    return ChannelBinding(
        room_id=row[0],
        channel_id=row[1],
        channel_type=ChannelType(row[2]),
        attached_at=datetime.fromisoformat(row[3]),
    )


def task_row(task: Task) -> tuple[Any, ...]:
    """Columns ``id, room_id, name, status, result, error, metadata, created_at, completed_at``."""
    return (
        task.id,
        task.room_id,
        task.name,
        task.status.value,
        to_json(task.result, "task result"),
        task.error,
        to_json(task.metadata, "task metadata"),
        task.created_at.isoformat(),
        _iso(task.completed_at),
    )


def task_from_row(row: tuple[Any, ...]) -> Task:
    """The inverse of :func:`task_row`."""
    return Task(
        id=row[0],
        room_id=row[1],
        name=row[2],
        status=TaskStatus(row[3]),
        result=json.loads(row[4]),
        error=row[5],
        metadata=json.loads(row[6]),
        created_at=datetime.fromisoformat(row[7]),
        completed_at=_moment(row[8]),
    )


def observation_row(observation: Observation) -> tuple[Any, ...]:
    """Columns ``id, room_id, kind, data, created_at``."""
    return (
        observation.id,
        observation.room_id,
        observation.kind,
        to_json(observation.data, "observation data"),
        observation.created_at.isoformat(),
    )


def observation_from_row(row: tuple[Any, ...]) -> Observation:
    """The inverse of :func:`observation_row`."""
    return Observation(
        id=row[0],
        room_id=row[1],
        kind=row[2],
        data=json.loads(row[3]),
        created_at=datetime.fromisoformat(row[4]),
    )

"""A room event as the JSON that ``room_event`` messages of the voice protocol carry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from voicegate.core.models import RoomEvent


def event_to_json(event: RoomEvent) -> dict[str, Any]:
    """A JSON-safe dict of a room event, as ``room_event`` messages carry it."""
    return {
        "id": event.id,
        "room_id": event.room_id,
        "index": event.index,
        "type": str(event.type),
        "status": str(event.status),
        "source": {
            "channel_id": event.source.channel_id,
            "channel_type": str(event.source.channel_type),
            "participant_id": event.source.participant_id,
            "provider": event.source.provider,
        },
        "content": json_safe(asdict(event.content)),
        "visibility": str(event.visibility),
        "chain_depth": event.chain_depth,
        "blocked_by": event.blocked_by,
        "metadata": json_safe(event.metadata),
        "created_at": event.created_at.isoformat(),
        "response_id": event.response_id,
    }


def json_safe(value: Any) -> Any:
    """``value`` with anything JSON cannot hold turned into a string (datetimes in ISO 8601)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return str(value)

"""The ``RoomKit`` methods that read a room's history and keep its read markers."""

from __future__ import annotations

from voicegate.core.models import Observation, RoomEvent, Task, TaskStatus
from voicegate.core.rooms import RoomDirectory
from voicegate.core.store import ConversationStore


class KitReads:
    """History for ``RoomKit``: a room's timeline, tasks and observations, and what each
    channel has read."""

    _store: ConversationStore
    _rooms: RoomDirectory

    async def get_timeline(
        self, room_id: str, offset: int = 0, limit: int = 50, visibility_filter: str | None = None
    ) -> list[RoomEvent]:
        """The room's events in index order."""
        await self._rooms.get(room_id)
        return await self._store.list_events(room_id, offset, limit, visibility_filter)

    async def list_tasks(self, room_id: str, status: TaskStatus | None = None) -> list[Task]:
        """The room's delegated tasks, optionally only those in ``status``."""
        return await self._store.list_tasks(room_id, status)

    async def list_observations(self, room_id: str) -> list[Observation]:
        """The room's observations."""
        return await self._store.list_observations(room_id)

    async def mark_read(self, room_id: str, channel_id: str, event_id: str) -> None:
        """Mark ``event_id`` (and everything before it) read for ``channel_id``."""
        await self._store.mark_read(room_id, channel_id, event_id)

    async def mark_all_read(self, room_id: str, channel_id: str) -> None:
        """Mark every event of the room read for ``channel_id``."""
        await self._store.mark_all_read(room_id, channel_id)

    async def get_unread_count(self, room_id: str, channel_id: str) -> int:
        """How many events ``channel_id`` has not read in the room."""
        return await self._store.get_unread_count(room_id, channel_id)

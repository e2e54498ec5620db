"""The storage contract every conversation store fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod

from voicegate.core.models import (
    ChannelBinding,
    Observation,
    Room,
    RoomEvent,
    Task,
    TaskStatus,
)
from voicegate.errors import RoomKitError


class StoreError(RoomKitError):
    """A store cannot do what was asked (unopenable file, duplicate room, unknown task)."""


class ConversationStore(ABC):
    """Persistent state of rooms: timelines, bindings, read markers, tasks, observations.

    ``add_event`` assigns the event's per-room ``index`` (from 0, gap-free) and
    returns the committed event; an event for an unknown room raises
    ``RoomNotFoundError``. Committed events are treated as immutable: change one
    with ``event.copy(...)``. Callers serialise writes per room with the room
    lock; a store must still never hand out the same index twice.

    ``visibility_filter`` keeps the events whose ``visibility`` equals it.
    Read markers only move forward; the unread count is the number of events
    after a channel's marker (all of them when it has none).
    """

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Prepare the store (create files, schema). Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources. Idempotent."""

    # rooms
    @abstractmethod
    async def create_room(self, room: Room) -> Room: ...

    @abstractmethod
    async def get_room(self, room_id: str) -> Room | None: ...

    @abstractmethod
    async def update_room(self, room: Room) -> Room: ...

    @abstractmethod
    async def list_rooms(self, offset: int = 0, limit: int = 50) -> list[Room]: ...

    # channel bindings
    @abstractmethod
    async def add_binding(self, binding: ChannelBinding) -> None: ...

    @abstractmethod
    async def remove_binding(self, room_id: str, channel_id: str) -> bool: ...

    @abstractmethod
    async def list_bindings(self, room_id: str) -> list[ChannelBinding]: ...

    # events
    @abstractmethod
    async def add_event(self, event: RoomEvent) -> RoomEvent: ...

    @abstractmethod
    async def get_event(self, event_id: str) -> RoomEvent | None: ...

    @abstractmethod
    async def list_events(
        self,
        room_id: str,
        offset: int = 0,
        limit: int = 50,
        visibility_filter: str | None = None,
    ) -> list[RoomEvent]: ...

    @abstractmethod
    async def count_events(self, room_id: str) -> int: ...

    # read markers
    @abstractmethod
    async def mark_read(self, room_id: str, channel_id: str, event_id: str) -> None: ...

    @abstractmethod
    async def mark_all_read(self, room_id: str, channel_id: str) -> None: ...

    @abstractmethod
    async def get_unread_count(self, room_id: str, channel_id: str) -> int: ...

    # tasks and observations
    @abstractmethod
    async def add_task(self, task: Task) -> Task: ...

    @abstractmethod
    async def update_task(self, task: Task) -> Task: ...

    @abstractmethod
    async def list_tasks(self, room_id: str, status: TaskStatus | None = None) -> list[Task]: ...

    @abstractmethod
    async def add_observation(self, observation: Observation) -> Observation: ...

    @abstractmethod
    async def list_observations(self, room_id: str) -> list[Observation]: ...

"""The storage contract every conversation store fulfils, and the in-memory default.

The durable stores (``SQLiteStore``, ``PostgresStore``) live in :mod:`voicegate.store`.
"""

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
from voicegate.errors import RoomKitError, RoomNotFoundError


class StoreError(RoomKitError):
    """A store cannot do what was asked (unopenable file, duplicate room, unknown task)."""


class StoreUnavailableError(StoreError):
    """The store cannot write now (disk full, I/O error): nothing of the write was kept.

    The store goes on serving; writes work again once the cause is gone.
    """


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

    @property
    def failure(self) -> str | None:
        """Why the latest write failed while writes still fail (``/healthz`` reports it), or
        None while the store works."""
        return None

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


class InMemoryStore(ConversationStore):
    """The default store: process memory, nothing survives a restart.

    Dicts and per-room lists; every operation is O(1) or a slice of one room.
    """

    def __init__(self) -> None:
        self._rooms: dict[str, Room] = {}
        self._bindings: dict[str, dict[str, ChannelBinding]] = {}
        self._timelines: dict[str, list[RoomEvent]] = {}
        self._events: dict[str, RoomEvent] = {}
        self._read_markers: dict[tuple[str, str], int] = {}
        self._tasks: dict[str, Task] = {}
        self._observations: dict[str, list[Observation]] = {}

    # rooms
    async def create_room(self, room: Room) -> Room:
        if room.id in self._rooms:
            raise StoreError(f"room {room.id!r} already exists")
        self._rooms[room.id] = room
        self._bindings[room.id] = {}
        self._timelines[room.id] = []
        return room

    async def get_room(self, room_id: str) -> Room | None:
        return self._rooms.get(room_id)

    async def update_room(self, room: Room) -> Room:
        if room.id not in self._rooms:
            raise RoomNotFoundError(f"room {room.id!r} does not exist")
        self._rooms[room.id] = room
        return room

    async def list_rooms(self, offset: int = 0, limit: int = 50) -> list[Room]:
        return list(self._rooms.values())[offset : offset + limit]

    # channel bindings
    async def add_binding(self, binding: ChannelBinding) -> None:
        self._room_bindings(binding.room_id)[binding.channel_id] = binding

    async def remove_binding(self, room_id: str, channel_id: str) -> bool:
        return self._room_bindings(room_id).pop(channel_id, None) is not None

    async def list_bindings(self, room_id: str) -> list[ChannelBinding]:
        return list(self._room_bindings(room_id).values())

    def _room_bindings(self, room_id: str) -> dict[str, ChannelBinding]:
        bindings = self._bindings.get(room_id)
        if bindings is None:
            raise RoomNotFoundError(f"room {room_id!r} does not exist")
        return bindings

    # events
    async def add_event(self, event: RoomEvent) -> RoomEvent:
        timeline = self._timelines.get(event.room_id)
        if timeline is None:
            raise RoomNotFoundError(f"room {event.room_id!r} does not exist")
        committed = event.copy(index=len(timeline))
        timeline.append(committed)
        self._events[committed.id] = committed
        return committed

    async def get_event(self, event_id: str) -> RoomEvent | None:
        return self._events.get(event_id)

    async def list_events(
        self,
        room_id: str,
        offset: int = 0,
        limit: int = 50,
        visibility_filter: str | None = None,
    ) -> list[RoomEvent]:
        timeline = self._timelines.get(room_id, [])
        if visibility_filter is None:
            return timeline[offset : offset + limit]
        visible = [e for e in timeline if e.visibility == visibility_filter]
        return visible[offset : offset + limit]

    async def count_events(self, room_id: str) -> int:
        return len(self._timelines.get(room_id, ()))

    # read markers
    async def mark_read(self, room_id: str, channel_id: str, event_id: str) -> None:
        event = self._events.get(event_id)
        if event is not None and event.room_id == room_id:
            self._raise_marker(room_id, channel_id, event.index)

    async def mark_all_read(self, room_id: str, channel_id: str) -> None:
        count = len(self._timelines.get(room_id, ()))
        if count:
            self._raise_marker(room_id, channel_id, count - 1)

    async def get_unread_count(self, room_id: str, channel_id: str) -> int:
        count = len(self._timelines.get(room_id, ()))
        return count - 1 - self._read_markers.get((room_id, channel_id), -1)

    def _raise_marker(self, room_id: str, channel_id: str, index: int) -> None:
        key = (room_id, channel_id)
        if index > self._read_markers.get(key, -1):
            self._read_markers[key] = index

    # tasks and observations
    async def add_task(self, task: Task) -> Task:
        self._tasks[task.id] = task
        return task

    async def update_task(self, task: Task) -> Task:
        if task.id not in self._tasks:
            raise StoreError(f"task {task.id!r} does not exist")
        self._tasks[task.id] = task
        return task

    async def list_tasks(self, room_id: str, status: TaskStatus | None = None) -> list[Task]:
        return [
            t
            for t in self._tasks.values()
            if t.room_id == room_id and (status is None or t.status == status)
        ]

    async def add_observation(self, observation: Observation) -> Observation:
        self._observations.setdefault(observation.room_id, []).append(observation)
        return observation

    async def list_observations(self, room_id: str) -> list[Observation]:
        return list(self._observations.get(room_id, ()))

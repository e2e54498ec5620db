"""Delegated background tasks: run work for a room and report its outcome."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from voicegate.core.hooks import HookEngine, HookTrigger
from voicegate.core.models import Task, TaskStatus, utcnow
from voicegate.core.rooms import RoomDirectory
from voicegate.core.store import ConversationStore

logger = logging.getLogger(__name__)

TaskWork = Callable[[], Awaitable[Any]]
TaskDone = Callable[[Task], Awaitable[None]]


def as_task_work(work: TaskWork | Awaitable[Any]) -> TaskWork:
    """``work`` as a zero-argument coroutine function (an awaitable is awaited once)."""
    if callable(work):
        return work
    awaitable = work

    async def await_it() -> Any:
        return await awaitable

    return await_it


class TaskRunner(ABC):
    """Runs delegated work; calls ``on_done`` with the finished task (completed or failed)."""

    @abstractmethod
    async def submit(self, task: Task, work: TaskWork, on_done: TaskDone) -> None:
        """Start ``work`` for ``task``."""

    @abstractmethod
    async def close(self) -> None:
        """Cancel the work still running."""


class InMemoryTaskRunner(TaskRunner):
    """Runs each task as an asyncio task of this process."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, task: Task, work: TaskWork, on_done: TaskDone) -> None:
        """Start ``work`` as a tracked asyncio task."""
        runner = asyncio.create_task(
            self._run(task, work, on_done), name=f"voicegate-task-{task.id}"
        )
        self._running.add(runner)
        runner.add_done_callback(self._running.discard)

    async def _run(self, task: Task, work: TaskWork, on_done: TaskDone) -> None:
        try:
            task.result = await work()
            task.status = TaskStatus.COMPLETED
        except asyncio.CancelledError:
            task.status = TaskStatus.CANCELLED
            raise
        except Exception as exc:
            logger.warning("task %s (%s) failed: %r", task.id, task.name, exc)
            task.status, task.error = TaskStatus.FAILED, repr(exc)
        finally:
            task.completed_at = utcnow()
        await on_done(task)

    async def close(self) -> None:
        """Cancel the running tasks and wait for them to end."""
        for runner in list(self._running):
            runner.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)


class TaskDelegator:
    """Stores a delegated task, runs it, and reports its end (store, hooks, framework, delivery)."""

    def __init__(
        self,
        store: ConversationStore,
        rooms: RoomDirectory,
        hooks: HookEngine,
        runner: TaskRunner,
    ) -> None:
        self._store = store
        self._rooms = rooms
        self._hooks = hooks
        self._framework = hooks.framework
        self._runner = runner

    async def delegate(
        self,
        room_id: str,
        name: str,
        work: TaskWork | Awaitable[Any],
        metadata: dict[str, Any] | None,
        deliver: TaskDone | None,
    ) -> Task:
        """Store a pending task for ``room_id`` and start ``work``; returns the task."""
        state = await self._rooms.get(room_id)
        task = await self._store.add_task(Task(room_id, name, metadata=dict(metadata or {})))

        async def finished(done: Task) -> None:
            await self._store.update_task(done)
            await self._hooks.run_all(HookTrigger.ON_TASK_COMPLETED, done, state.context, room_id)
            data = {"task_id": done.id, "status": str(done.status)}
            await self._framework.emit("task_completed", room_id=room_id, data=data)
            if deliver is not None:
                await deliver(done)

        await self._runner.submit(task, as_task_work(work), finished)
        return task

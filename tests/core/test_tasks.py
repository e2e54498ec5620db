"""delegate(): stored tasks, ON_TASK_COMPLETED, task_completed, delivery strategies."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.core.conftest import RecordingChannel
from voicegate import (
    BackgroundTaskDeliveryStrategy,
    FrameworkEvent,
    HookTrigger,
    RoomKit,
    SystemContent,
    Task,
    TaskStatus,
)


class PostResult(BackgroundTaskDeliveryStrategy):
    """Posts the task's result into its room from a channel."""

    def __init__(self, channel_id: str) -> None:
        self.channel_id = channel_id
        self.delivered = asyncio.Event()

    async def deliver(self, kit: Any, task: Task) -> None:
        await kit.send_event(task.room_id, self.channel_id, SystemContent(body=str(task.result)))
        self.delivered.set()


async def test_task_completes_hooks_fire_and_strategy_delivers(kit: RoomKit) -> None:
    completed: list[FrameworkEvent] = []
    hooked: list[Task] = []

    @kit.on("task_completed")
    async def on_done(event: FrameworkEvent) -> None:
        completed.append(event)

    @kit.hook(HookTrigger.ON_TASK_COMPLETED)
    async def hook(task: Task, ctx: Any) -> None:
        hooked.append(task)

    watcher = RecordingChannel("watcher")
    kit.register_channel(RecordingChannel("system"))
    kit.register_channel(watcher)
    room = await kit.create_room()
    await kit.attach_channel(room.id, "system")
    await kit.attach_channel(room.id, "watcher")

    async def work() -> int:
        return 42

    strategy = PostResult("system")
    task = await kit.delegate(room.id, "answer", work, delivery_strategy=strategy)
    assert task.status is TaskStatus.PENDING
    await asyncio.wait_for(strategy.delivered.wait(), 2)
    await kit.wait_delivered()
    [stored] = await kit.list_tasks(room.id, TaskStatus.COMPLETED)
    assert (stored.id, stored.result) == (task.id, 42)
    assert hooked[0].id == task.id
    assert completed[0].data == {"task_id": task.id, "status": "completed"}
    assert watcher.delivered[0].content == SystemContent(body="42")


async def test_failed_task_is_stored_failed(kit: RoomKit) -> None:
    room = await kit.create_room()
    done = asyncio.Event()

    @kit.on("task_completed")
    async def on_done(event: FrameworkEvent) -> None:
        done.set()

    async def broken() -> None:
        raise RuntimeError("no")

    await kit.delegate(room.id, "broken", broken())
    await asyncio.wait_for(done.wait(), 2)
    [stored] = await kit.list_tasks(room.id)
    assert stored.status is TaskStatus.FAILED
    assert stored.error is not None
    assert "no" in stored.error

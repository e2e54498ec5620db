"""InferenceWorker on a real thread: results, the queue bound and errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from voicegate.errors import RoomKitError
from voicegate.inference import InferenceWorker, WorkerOverloadedError


async def test_run_returns_the_result_from_the_worker_thread() -> None:
    worker = InferenceWorker("t", max_queue=2)
    name = await worker.run(lambda: threading.current_thread().name)
    assert name.startswith("infer-t")
    assert name != threading.current_thread().name
    assert worker.pending == 0
    worker.close()


async def test_a_full_queue_raises_instead_of_growing() -> None:
    worker = InferenceWorker("busy", max_queue=2)
    release = threading.Event()
    first = asyncio.create_task(worker.run(release.wait))
    second = asyncio.create_task(worker.run(release.wait))
    await asyncio.sleep(0)
    assert worker.pending == 2
    with pytest.raises(WorkerOverloadedError, match="busy") as caught:
        await worker.run(release.wait)
    assert isinstance(caught.value, RoomKitError)
    release.set()
    assert await asyncio.gather(first, second) == [True, True]
    assert worker.pending == 0
    worker.close()


async def test_errors_in_the_thread_reach_the_caller() -> None:
    worker = InferenceWorker("err")

    def fail() -> None:
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        await worker.run(fail)
    worker.close()


def test_max_queue_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_queue"):
        InferenceWorker("x", max_queue=0)


async def test_close_returns_once_the_call_in_progress_has_finished() -> None:
    worker = InferenceWorker("closing")
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def long_call() -> None:
        started.set()
        release.wait()
        finished.append(True)

    running = asyncio.create_task(worker.run(long_call))
    await asyncio.to_thread(started.wait, 30)
    closing = asyncio.create_task(asyncio.to_thread(worker.close))
    await asyncio.sleep(0.05)
    assert not closing.done()  # still inside the call
    release.set()
    await closing
    assert finished == [True]
    await running
    with pytest.raises(WorkerOverloadedError, match="closed"):
        await worker.run(lambda: None)

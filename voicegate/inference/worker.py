"""``InferenceWorker``: blocking model calls on one worker thread behind a bounded queue.

Each loaded model owns one worker, so a model never runs two calls at once and the asyncio
event loop never waits on inference. Jobs beyond ``max_queue`` (running plus waiting) are
refused with :class:`WorkerOverloadedError` instead of piling up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from voicegate.errors import RoomKitError

T = TypeVar("T")


class WorkerOverloadedError(RoomKitError):
    """The worker's queue is full; the caller should shed the request."""


class InferenceWorker:
    """One thread that runs a model's blocking calls in order, with at most ``max_queue`` jobs."""

    def __init__(self, name: str, max_queue: int = 8) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue}")
        self.name = name
        self.max_queue = max_queue
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"infer-{name}")
        self._lock = threading.Lock()
        self._pending = 0

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        return self._pending

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the worker thread and return its result.

        Cancelling the awaiting task drops the job if it has not started yet.
        """
        return await asyncio.wrap_future(self._submit(fn, *args))

    def close(self) -> None:
        """Stop accepting jobs; the thread ends after the current one."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        with self._lock:
            if self._pending >= self.max_queue:
                raise WorkerOverloadedError(
                    f"inference worker {self.name!r} is busy: {self._pending} jobs queued "
                    f"(max_queue={self.max_queue})"
                )
            self._pending += 1
        try:
            future = self._executor.submit(fn, *args)
        except RuntimeError as error:
            self._release()
            raise WorkerOverloadedError(f"inference worker {self.name!r} is closed") from error
        future.add_done_callback(lambda _: self._release())
        return future

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

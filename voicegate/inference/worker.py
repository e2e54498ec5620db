"""``InferenceWorker``: blocking model calls on one worker thread behind a bounded queue.

Each loaded model owns one worker, so a model never runs two calls at once and the asyncio
event loop never waits on inference. Jobs beyond ``max_queue`` (running plus waiting) are
refused with :class:`WorkerOverloadedError` instead of piling up.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from voicegate.errors import RoomKitError

logger = logging.getLogger(__name__)

T = TypeVar("T")
CLOSE_TIMEOUT_S = 30.0
"""How long closing a worker waits for the call in progress (a long transcription)."""
_Job = tuple[Callable[..., Any], tuple[Any, ...], "Future[Any]", float]
"""A call, its arguments, its future and when it was submitted (``time.monotonic``)."""


class WorkerOverloadedError(RoomKitError):
    """The worker's queue is full; the caller should shed the request."""


class InferenceWorker:
    """One thread that runs a model's blocking calls in order, with at most ``max_queue`` jobs.

    The thread is a daemon, so a process that exits without closing it is not held up; a
    server closes its workers as it stops, since a daemon thread still inside a model's
    native code when the interpreter finalizes can abort the process.
    """

    def __init__(self, name: str, max_queue: int = 8) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue}")
        self.name = name
        self.max_queue = max_queue
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending = 0
        self._closed = False

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        return self._pending

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the worker thread and return its result.

        Cancelling the awaiting task drops the job if it has not started yet.
        """
        return await asyncio.wrap_future(self._submit(fn, *args))

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop accepting jobs and drop those waiting; return once the thread has finished
        the current one (at most ``timeout`` seconds). Blocking: call it off the loop."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._jobs.put(None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        with self._lock:
            if self._closed:
                raise WorkerOverloadedError(f"inference worker {self.name!r} is closed")
            if self._pending >= self.max_queue:
                raise WorkerOverloadedError(
                    f"inference worker {self.name!r} is busy: {self._pending} jobs queued "
                    f"(max_queue={self.max_queue})"
                )
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name=f"infer-{self.name}", daemon=True
                )
                self._thread.start()
        future: Future[T] = Future()
        future.add_done_callback(lambda _: self._release())
        self._jobs.put((fn, args, future, time.monotonic()))
        return future

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, future, submitted = job
            if self._closed:
                future.cancel()
            elif future.set_running_or_notify_cancel():  # False: cancelled while it waited
                started = time.monotonic()
                try:
                    future.set_result(fn(*args))
                except BaseException as error:
                    future.set_exception(error)
                logger.debug(
                    "worker %s: a job waited %.1f ms, ran %.1f ms",
                    self.name,
                    (started - submitted) * 1000.0,
                    (time.monotonic() - started) * 1000.0,
                )
        while True:  # closed: what still waits is dropped
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job[2].cancel()

    def _release(self) -> None:
        with self._lock:
            self._pending -= 1

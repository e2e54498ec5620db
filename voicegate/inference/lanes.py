"""``InferenceLanes``: the order in which one model's worker takes its jobs, and its load.

Two lanes in front of an :class:`~voicegate.inference.InferenceWorker`, which is given one
job at a time:

- **required** jobs (a final transcript) wait their turn in arrival order however long it
  takes; only beyond ``max_waiting`` of them is one refused, with
  :class:`~voicegate.inference.WorkerOverloadedError` (admission keeps a server far from it).
- **optional** jobs (a partial transcript) run only when no required job waits. Such a
  job takes its input when its turn comes, not when it was offered, so one that waited
  works on the freshest audio: a busy worker gives fewer partials, never older ones.
  Each has a key (its stream, one job at a time); :meth:`InferenceLanes.promote` moves
  the job of a key still waiting to the end of the required lane (its result is needed
  now).

:meth:`InferenceLanes.pressure` measures the load as it goes: the required jobs waiting,
how long they waited, and the worker's time per real-time second over the last
``window`` seconds, in all and on required jobs.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from voicegate.inference.worker import InferenceWorker, WorkerOverloadedError

T = TypeVar("T")
A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class Pressure:
    """How loaded a model's worker is (see :meth:`InferenceLanes.pressure`).

    ``wait_s`` is the mean wait of the required jobs started in the window, or the age of
    the oldest one waiting now if that is longer; ``busy`` and ``required_busy`` are the
    worker's seconds per real-time second over the window, on all jobs and on required ones.
    """

    waiting: int
    wait_s: float
    busy: float
    required_busy: float


@dataclass(eq=False, slots=True)
class _Job:
    required: bool
    key: Hashable | None
    fn: Callable[..., Any]
    args: tuple[Any, ...] | Callable[[], tuple[Any, ...]]
    """The arguments, or (optional jobs) what makes them when the job's turn comes."""
    submitted: float
    started: float = 0.0
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass(frozen=True, slots=True)
class _Done:
    """A finished job: when it ran, whether it was required, how long it had waited."""

    started: float
    ended: float
    required: bool
    waited: float


class InferenceLanes:
    """Required and optional jobs for one worker; see the module docstring."""

    def __init__(
        self,
        worker: InferenceWorker,
        *,
        max_waiting: int = 256,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_waiting < 1:
            raise ValueError(f"max_waiting must be at least 1, got {max_waiting}")
        self._worker = worker
        self._max_waiting = max_waiting
        self._window = window
        self._clock = clock
        self._required: deque[_Job] = deque()
        self._optional: deque[_Job] = deque()
        self._waiting_by_key: dict[Hashable, _Job] = {}
        self._running: _Job | None = None
        self._done: deque[_Done] = deque()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """A required job: ``fn(*args)`` on the worker once the required jobs before it ran."""
        if len(self._required) >= self._max_waiting:
            raise WorkerOverloadedError(
                f"{len(self._required)} jobs wait for the worker (max_waiting={self._max_waiting})"
            )
        job = _Job(True, None, fn, args, self._clock())
        self._required.append(job)
        result: T = await self._wait(job)
        return result

    async def offer(self, key: Hashable, fn: Callable[[A], T], prepare: Callable[[], A]) -> T:
        """An optional job of ``key``: ``fn(prepare())``, ``prepare`` called on the event
        loop when the job's turn comes. A key has one job waiting at a time."""
        if key in self._waiting_by_key:
            raise ValueError(f"an optional job of {key!r} is already waiting")
        job = _Job(False, key, fn, lambda: (prepare(),), self._clock())
        self._optional.append(job)
        self._waiting_by_key[key] = job
        result: T = await self._wait(job)
        return result

    def promote(self, key: Hashable) -> None:
        """Move the optional job of ``key`` still waiting to the end of the required lane."""
        job = self._waiting_by_key.pop(key, None)
        if job is not None:
            self._optional.remove(job)
            job.required = True
            self._required.append(job)
            self._dispatch()

    def pressure(self) -> Pressure:
        """The load now and over the last ``window`` seconds."""
        now = self._clock()
        since = now - self._window
        self._trim(since)
        spans = [(max(d.started, since), d.ended, d.required) for d in self._done]
        if self._running is not None:
            spans.append((max(self._running.started, since), now, self._running.required))
        busy = sum(end - start for start, end, _ in spans) / self._window
        required_busy = sum(end - start for start, end, required in spans if required)
        waits = [d.waited for d in self._done if d.required and d.started >= since]
        mean_wait = sum(waits) / len(waits) if waits else 0.0
        oldest = now - self._required[0].submitted if self._required else 0.0
        return Pressure(
            waiting=len(self._required),
            wait_s=max(mean_wait, oldest),
            busy=busy,
            required_busy=required_busy / self._window,
        )

    async def _wait(self, job: _Job) -> Any:
        self._dispatch()
        try:
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            self._forget(job)
            raise

    def _forget(self, job: _Job) -> None:
        """A cancelled caller: its job no longer runs if it still waits."""
        for lane in (self._required, self._optional):
            if job in lane:
                lane.remove(job)
        if job.key is not None and self._waiting_by_key.get(job.key) is job:
            del self._waiting_by_key[job.key]
        if not job.future.done():
            job.future.cancel()

    def _dispatch(self) -> None:
        while self._running is None and (job := self._next()) is not None:
            try:
                args = job.args if isinstance(job.args, tuple) else job.args()
            except Exception as error:
                if not job.future.done():
                    job.future.set_exception(error)
                continue
            self._running = job
            job.started = self._clock()
            work = asyncio.ensure_future(self._worker.run(job.fn, *args))
            work.add_done_callback(partial(self._finished, job))

    def _next(self) -> _Job | None:
        if self._required:
            return self._required.popleft()
        if self._optional:
            job = self._optional.popleft()
            del self._waiting_by_key[job.key]
            return job
        return None

    def _finished(self, job: _Job, work: asyncio.Future[Any]) -> None:
        ended = self._clock()
        self._done.append(_Done(job.started, ended, job.required, job.started - job.submitted))
        self._trim(ended - self._window)
        self._running = None
        error = None if work.cancelled() else work.exception()  # always retrieved
        if not job.future.done():
            if work.cancelled():
                job.future.cancel()
            elif error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(work.result())
        self._dispatch()

    def _trim(self, since: float) -> None:
        while self._done and self._done[0].ended < since:
            self._done.popleft()

"""``InferenceLanes``: the order in which one model's worker takes its jobs, and its load.

Two lanes in front of an :class:`~voicegate.inference.InferenceWorker`, which is given one
job at a time:

- **required** jobs (a final transcript, a piece of an answer's speech) wait their turn in
  the order their results are needed, however long it takes. A job is needed when it is
  given, unless it says later (``needed_at``: a later piece of an answer is needed shortly
  before the audio before it will have played out); jobs needed at the same time keep
  their arrival order. A job given a later time lets the jobs needed now go first until
  its time comes, and from then on goes ahead of them (the earliest such first): an answer
  that runs dry is worse than one that starts later. Only
  beyond ``max_waiting`` of them is one refused, with
  :class:`~voicegate.inference.WorkerOverloadedError` (admission keeps a server far from it).
- **optional** jobs (a partial transcript) run only when no required job waits. Such a
  job takes its input when its turn comes, not when it was offered, so one that waited
  works on the freshest audio: a busy worker gives fewer partials, never older ones.
  Each has a key (its stream, one job at a time); :meth:`InferenceLanes.promote` moves
  the job of a key still waiting to the required lane (its result is needed now). An
  **urgent** optional job (a pass that is likely to be a final's: the speaker paused) waits
  ahead of the other optional jobs. With ``skip_optional_above``, an optional job that is
  not urgent is skipped (its caller gets :class:`JobSkippedError`) when its turn comes
  while the worker was busy more than that share of the window: a loaded worker spends its
  time on finals, not on partials.

**Batches.** A job given by :meth:`InferenceLanes.run_batched` or
:meth:`InferenceLanes.offer` is one input of a function of many inputs (a model's batched
call). When its turn comes, the jobs of the same function waiting right behind it in its
lane join it, up to ``max_batch`` in all, and the worker runs them in one call: required
jobs in their order, optional jobs only with optional ones, so a partial never makes a
final wait longer. A batch may leave an input to be run alone (a slow one): it returns
the rest of that input's work as a :class:`RunAlone`. A required input's rest runs next,
before the jobs that waited behind it; an optional input's rest waits at the head of the
optional lane, so the required jobs given meanwhile go first (it may still be promoted, and
a cancelled caller's rest never runs).

:meth:`InferenceLanes.pressure` measures the load as it goes: the required jobs waiting,
how long they waited (from when they were needed, if that was after they were given), and
the worker's time per real-time second over the last ``window`` seconds, in all and on
required jobs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

from voicegate.errors import RoomKitError
from voicegate.inference.worker import InferenceWorker, WorkerOverloadedError

logger = logging.getLogger(__name__)

T = TypeVar("T")
A = TypeVar("A")


@dataclass(frozen=True, slots=True)
class RunAlone(Generic[T]):
    """A batch function's result for an input it leaves (a slow one): ``rest`` finishes
    that input's work as a job of its own, in the input's lane (the work the batch did for
    it is not done again)."""

    rest: Callable[[], T]


BatchFn = Callable[[list[A]], list[T | BaseException | RunAlone[T]]]
"""A function of many inputs: one result per input, in order; an exception instance for an
input that failed (it reaches that input's caller alone); a :class:`RunAlone` for an input
it leaves to be finished alone."""


class JobSkippedError(RoomKitError):
    """An optional job was skipped: the worker was too busy for it (see
    :class:`InferenceLanes`)."""


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
    needed: float | None = None
    """When its result is needed (None: when given); the order of the required lane."""
    urgent: bool = False
    batched: bool = False
    """Whether ``fn`` is a :data:`BatchFn` and ``args`` holds one of its inputs."""
    started: float = 0.0
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    @property
    def due(self) -> float:
        """When it was both given and needed: its wait counts from here."""
        return self.submitted if self.needed is None else max(self.submitted, self.needed)

    @property
    def rank(self) -> float:
        """Its place in the required lane: when it is needed."""
        return self.submitted if self.needed is None else self.needed


@dataclass(frozen=True, slots=True)
class _Done:
    """A finished call: when it ran, whether its jobs were required, how long each waited."""

    started: float
    ended: float
    required: bool
    waits: tuple[float, ...]


class InferenceLanes:
    """Required and optional jobs for one worker; see the module docstring."""

    def __init__(
        self,
        worker: InferenceWorker,
        *,
        max_waiting: int = 256,
        max_batch: int = 1,
        skip_optional_above: float | None = None,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_waiting < 1:
            raise ValueError(f"max_waiting must be at least 1, got {max_waiting}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._worker = worker
        self._max_waiting = max_waiting
        self._max_batch = max_batch
        self._skip_optional_above = skip_optional_above
        self._window = window
        self._clock = clock
        self._required: deque[_Job] = deque()
        self._optional: deque[_Job] = deque()
        self._waiting_by_key: dict[Hashable, _Job] = {}
        self._running: list[_Job] = []
        self._done: deque[_Done] = deque()

    async def run(self, fn: Callable[..., T], *args: Any, needed_at: float | None = None) -> T:
        """A required job: ``fn(*args)`` on the worker once the required jobs needed before
        it ran; it is needed now, or at ``needed_at`` (on :attr:`clock`) if given."""
        job = _Job(True, None, fn, args, self._clock(), needed_at)
        result: T = await self._wait(self._require(job))
        return result

    @property
    def clock(self) -> Callable[[], float]:
        """The clock of ``needed_at`` and of the load."""
        return self._clock

    async def run_batched(self, fn: BatchFn[A, T], item: A) -> T:
        """A required job: ``item``'s result of ``fn``, called on a batch of the required
        jobs of ``fn`` that wait in a row (see the module docstring); if the batch leaves
        ``item`` (a :class:`RunAlone`), its rest runs next."""
        job = _Job(True, None, fn, (item,), self._clock(), batched=True)
        result: T = await self._wait(self._require(job))
        return result

    async def offer(
        self, key: Hashable, fn: BatchFn[A, T], prepare: Callable[[], A], *, urgent: bool = False
    ) -> T:
        """An optional job of ``key``: ``prepare()``'s result of ``fn`` (called on a batch of
        optional jobs), ``prepare`` called on the event loop when the job's turn comes. A
        key has one job waiting at a time. An ``urgent`` job waits ahead of the optional jobs
        that are not, and is never skipped; another may be (:class:`JobSkippedError`)."""
        if key in self._waiting_by_key:
            raise ValueError(f"an optional job of {key!r} is already waiting")
        job = _Job(False, key, fn, lambda: (prepare(),), self._clock(), urgent=urgent, batched=True)
        if urgent:  # behind the urgent ones already waiting
            place = next((i for i, other in enumerate(self._optional) if not other.urgent), None)
            self._optional.insert(len(self._optional) if place is None else place, job)
        else:
            self._optional.append(job)
        self._waiting_by_key[key] = job
        result: T = await self._wait(job)
        return result

    def _require(self, job: _Job) -> _Job:
        if len(self._required) >= self._max_waiting:
            raise WorkerOverloadedError(
                f"{len(self._required)} jobs wait for the worker (max_waiting={self._max_waiting})"
            )
        self._enqueue(job)
        return job

    def _enqueue(self, job: _Job) -> None:
        """Into the required lane, behind every job needed at the same time or earlier."""
        place = len(self._required)
        while place and self._required[place - 1].rank > job.rank:
            place -= 1
        self._required.insert(place, job)

    def promote(self, key: Hashable) -> None:
        """Move the optional job of ``key`` still waiting to the required lane, needed now;
        its wait as a required job (which :meth:`pressure` measures) starts now."""
        job = self._waiting_by_key.pop(key, None)
        if job is not None:
            self._optional.remove(job)
            job.required = True
            job.submitted = self._clock()  # a required job's wait starts here
            self._enqueue(job)
            self._dispatch()

    def pressure(self) -> Pressure:
        """The load now and over the last ``window`` seconds."""
        now = self._clock()
        since = now - self._window
        self._trim(since)
        spans = [(max(d.started, since), d.ended, d.required) for d in self._done]
        if self._running:
            running = self._running[0]
            spans.append((max(running.started, since), now, running.required))
        busy = sum(end - start for start, end, _ in spans) / self._window
        required_busy = sum(end - start for start, end, required in spans if required)
        waits = [w for d in self._done if d.required and d.started >= since for w in d.waits]
        mean_wait = sum(waits) / len(waits) if waits else 0.0
        oldest = max([0.0, *(now - job.due for job in self._required)])
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
        while not self._running and (jobs := self._next()):
            ready: list[tuple[_Job, tuple[Any, ...]]] = []
            for job in jobs:
                try:
                    ready.append((job, job.args if isinstance(job.args, tuple) else job.args()))
                except Exception as error:
                    if not job.future.done():
                        job.future.set_exception(error)
            if not ready:
                continue
            self._running = [job for job, _ in ready]
            started = self._clock()
            for job in self._running:
                job.started = started
            first, args = ready[0]
            if first.batched:
                call = self._worker.run(first.fn, [args[0] for _, args in ready])
            else:
                call = self._worker.run(first.fn, *args)
            work = asyncio.ensure_future(call)
            work.add_done_callback(partial(self._finished, self._running))

    def _next(self) -> list[_Job]:
        """The next job, and those of its batch."""
        if not self._required:
            self._skip_optional()
        lane = self._required or self._optional
        if not lane:
            return []
        now = self._clock()
        late = next((job for job in lane if job.needed is not None and job.needed <= now), None)
        if late is not None:  # its time has come: ahead of the jobs needed now
            lane.remove(late)
            return [late]
        jobs = [lane.popleft()]
        while (
            jobs[0].batched
            and len(jobs) < self._max_batch
            and lane
            and lane[0].batched
            and lane[0].fn == jobs[0].fn
        ):
            jobs.append(lane.popleft())
        for job in jobs:
            if not job.required:
                del self._waiting_by_key[job.key]
        return jobs

    def _skip_optional(self) -> None:
        """Skip the optional jobs that are not urgent, if the worker is too busy for them."""
        limit = self._skip_optional_above
        if limit is None or all(job.urgent for job in self._optional):
            return
        busy = self.pressure().busy
        if busy <= limit:
            return
        for job in [job for job in self._optional if not job.urgent]:
            self._optional.remove(job)
            del self._waiting_by_key[job.key]
            if not job.future.done():
                job.future.set_exception(
                    JobSkippedError(f"skipped: the worker was {busy:.0%} busy (limit {limit:.0%})")
                )

    def _finished(self, jobs: list[_Job], work: asyncio.Future[Any]) -> None:
        ended = self._clock()
        first = jobs[0]
        waits = tuple(max(0.0, job.started - job.due) for job in jobs)
        self._done.append(_Done(first.started, ended, first.required, waits))
        logger.debug(
            "lanes of %s: %d %s job(s) waited %s ms, ran %.1f ms; %d required wait",
            self._worker.name,
            len(jobs),
            "required" if first.required else "optional",
            ",".join(f"{wait * 1000.0:.1f}" for wait in waits),
            (ended - first.started) * 1000.0,
            len(self._required),
        )
        self._trim(ended - self._window)
        self._running = []
        left: list[_Job] = []
        for job, (failed, outcome) in zip(jobs, _outcomes(jobs, work), strict=True):
            if job.future.done():
                continue  # its caller was cancelled: no rest runs either
            if job.batched and isinstance(outcome, RunAlone):  # left by its batch
                job.fn, job.args, job.batched = outcome.rest, (), False
                left.append(job)
            elif isinstance(outcome, asyncio.CancelledError):
                job.future.cancel()
            elif failed:
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)
        for job in reversed(left):
            if job.required:
                self._required.appendleft(job)
            else:
                self._optional.appendleft(job)
                self._waiting_by_key[job.key] = job
        self._dispatch()

    def _trim(self, since: float) -> None:
        while self._done and self._done[0].ended < since:
            self._done.popleft()


def _outcomes(jobs: list[_Job], work: asyncio.Future[Any]) -> list[tuple[bool, Any]]:
    """``(failed, result or exception)`` of each job of a finished call."""
    if work.cancelled():
        return [(True, asyncio.CancelledError())] * len(jobs)
    if (error := work.exception()) is not None:
        return [(True, error)] * len(jobs)
    if not jobs[0].batched:
        return [(False, work.result())]
    results = work.result()
    if len(results) != len(jobs):
        error = RuntimeError(f"a batch of {len(jobs)} inputs gave {len(results)} results")
        return [(True, error)] * len(jobs)
    return [(isinstance(result, BaseException), result) for result in results]

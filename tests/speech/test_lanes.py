"""InferenceLanes on a real worker thread: order, fresh inputs, promotion, the bound, load."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial

import pytest

from voicegate.inference import (
    InferenceLanes,
    InferenceWorker,
    JobSkippedError,
    RunAlone,
    WorkerOverloadedError,
)
from voicegate.inference.lanes import BatchFn


class Gate:
    """A job that blocks the worker until :meth:`open`, so the test sees what queues."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self._open = threading.Event()

    def __call__(self, value: str) -> str:
        self.entered.set()
        self._open.wait(30)
        return value

    def open(self) -> None:
        self._open.set()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def worker() -> AsyncIterator[InferenceWorker]:
    running = InferenceWorker("lanes", max_queue=1)
    yield running
    running.close()


async def blocked(lanes: InferenceLanes) -> tuple[Gate, asyncio.Task[str]]:
    """A required job holding the worker; the lanes queue everything after it."""
    gate = Gate()
    task = asyncio.create_task(lanes.run(gate, "first"))
    await asyncio.to_thread(gate.entered.wait, 30)
    return gate, task


def recorder(order: list[str]) -> BatchFn[str, str]:
    def job(values: list[str]) -> list[str | BaseException | RunAlone[str]]:
        order.extend(values)
        return list(values)

    return job


def each(fn: Callable[[str], str]) -> BatchFn[str, str]:
    """``fn`` of every input of a batch (a job given to ``offer``)."""

    def batch(values: Sequence[str]) -> list[str | BaseException | RunAlone[str]]:
        return [fn(value) for value in values]

    return batch


class BatchRecorder:
    """A batched job that records each call's inputs; an input starting "bad" fails alone."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, values: list[str]) -> list[str | BaseException | RunAlone[str]]:
        self.calls.append(list(values))
        return [ValueError(v) if v.startswith("bad") else v.upper() for v in values]


upper = each(str.upper)


async def test_required_jobs_overtake_optional_ones_and_keep_their_order(
    worker: InferenceWorker,
) -> None:
    lanes = InferenceLanes(worker)
    gate, first = await blocked(lanes)
    order: list[str] = []
    job = recorder(order)
    partial = asyncio.create_task(lanes.offer("stream-a", job, lambda: "partial"))
    finals = [asyncio.create_task(lanes.run_batched(job, f"final-{n}")) for n in range(3)]
    await asyncio.sleep(0)
    gate.open()
    assert await asyncio.gather(first, partial, *finals) == [
        "first",
        "partial",
        "final-0",
        "final-1",
        "final-2",
    ]
    assert order == ["final-0", "final-1", "final-2", "partial"]


async def test_an_optional_job_takes_its_input_when_its_turn_comes(
    worker: InferenceWorker,
) -> None:
    lanes = InferenceLanes(worker)
    gate, first = await blocked(lanes)
    audio = ["0.7 s"]
    partial = asyncio.create_task(lanes.offer("stream-a", upper, lambda: audio[-1]))
    await asyncio.sleep(0)
    audio.append("2.1 s")  # the caller went on speaking while the partial waited
    gate.open()
    assert await partial == "2.1 S"
    await first
    gate, second = await blocked(lanes)
    waiting = asyncio.create_task(lanes.offer("stream-a", upper, lambda: "a"))
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="already waiting"):
        await lanes.offer("stream-a", upper, lambda: "b")  # one job per key at a time
    gate.open()
    assert list(await asyncio.gather(second, waiting)) == ["first", "A"]


async def test_promote_moves_a_waiting_partial_among_the_finals(worker: InferenceWorker) -> None:
    lanes = InferenceLanes(worker)
    gate, first = await blocked(lanes)
    order: list[str] = []
    job = recorder(order)
    other = asyncio.create_task(lanes.offer("stream-b", job, lambda: "partial-b"))
    ended = asyncio.create_task(lanes.offer("stream-a", job, lambda: "utterance-a"))
    final = asyncio.create_task(lanes.run_batched(job, "final-c"))
    await asyncio.sleep(0)
    lanes.promote("stream-a")  # stream-a's utterance ended: its pass is the final's work
    lanes.promote("stream-z")  # nothing waits for that key: nothing happens
    gate.open()
    await asyncio.gather(first, other, ended, final)
    assert order == ["final-c", "utterance-a", "partial-b"]


async def test_required_jobs_run_in_the_order_they_are_needed(worker: InferenceWorker) -> None:
    clock = FakeClock()
    lanes = InferenceLanes(worker, clock=clock)
    gate, first = await blocked(lanes)
    order: list[str] = []
    jobs = [
        asyncio.create_task(lanes.run(order.append, name, needed_at=needed))
        for name, needed in (("later", 102.0), ("soon", 101.0), ("now", None), ("now 2", None))
    ]
    await asyncio.sleep(0)
    clock.now = 101.5  # "soon"'s time has come: it goes ahead of the jobs needed now
    jobs.append(asyncio.create_task(lanes.run(order.append, "given late")))
    await asyncio.sleep(0)
    gate.open()
    await asyncio.gather(first, *jobs)
    assert order == ["soon", "now", "now 2", "given late", "later"]


async def test_past_max_waiting_a_required_job_is_refused(worker: InferenceWorker) -> None:
    lanes = InferenceLanes(worker, max_waiting=2)
    gate, first = await blocked(lanes)
    waiting = [asyncio.create_task(lanes.run(str, n)) for n in range(2)]
    await asyncio.sleep(0)
    with pytest.raises(WorkerOverloadedError, match="max_waiting=2"):
        await lanes.run(str, 3)
    gate.open()
    assert await asyncio.gather(*waiting) == ["0", "1"]
    await first


async def test_a_cancelled_caller_takes_its_waiting_job_away(worker: InferenceWorker) -> None:
    lanes = InferenceLanes(worker)
    gate, first = await blocked(lanes)
    order: list[str] = []
    job = recorder(order)
    dropped = asyncio.create_task(lanes.run_batched(job, "dropped"))
    dropped_partial = asyncio.create_task(lanes.offer("s", job, lambda: "dropped partial"))
    kept = asyncio.create_task(lanes.run_batched(job, "kept"))
    await asyncio.sleep(0)
    dropped.cancel()
    dropped_partial.cancel()
    gate.open()
    assert await kept == "kept"
    await first
    assert order == ["kept"]
    assert await lanes.offer("s", job, lambda: "again") == "again"  # the key is free


async def test_errors_reach_the_caller(worker: InferenceWorker) -> None:
    lanes = InferenceLanes(worker)

    def fail(value: str) -> str:
        raise ValueError(value)

    def broken_input() -> str:
        raise KeyError("no audio")

    with pytest.raises(ValueError, match="model failed"):
        await lanes.run(fail, "model failed")
    with pytest.raises(KeyError, match="no audio"):
        await lanes.offer("s", upper, broken_input)
    assert await lanes.run(str.upper, "still works") == "STILL WORKS"


async def test_pressure_measures_waiting_finals_and_worker_time(worker: InferenceWorker) -> None:
    clock = FakeClock()
    lanes = InferenceLanes(worker, window=10.0, clock=clock)
    assert lanes.pressure().busy == 0.0
    gate, first = await blocked(lanes)
    finals = [asyncio.create_task(lanes.run(str, n)) for n in range(3)]
    await asyncio.sleep(0)
    clock.now += 4.0  # the worker is busy with the first job for 4 s
    pressure = lanes.pressure()
    assert pressure.waiting == 3
    assert pressure.wait_s == pytest.approx(4.0)
    assert pressure.busy == pytest.approx(0.4)
    assert pressure.required_busy == pytest.approx(0.4)
    gate.open()
    await asyncio.gather(first, *finals)
    after = lanes.pressure()
    assert after.waiting == 0
    assert after.wait_s == pytest.approx(3.0)  # the first waited 0 s, the three others 4 s
    clock.now += 30.0  # long after: the window has forgotten them
    assert lanes.pressure().busy == 0.0
    assert lanes.pressure().wait_s == 0.0


async def test_waiting_jobs_of_one_function_run_in_batches_finals_before_partials(
    worker: InferenceWorker,
) -> None:
    lanes = InferenceLanes(worker, max_batch=3)
    gate, first = await blocked(lanes)
    batch = BatchRecorder()
    other = BatchRecorder()
    partials = [
        asyncio.create_task(lanes.offer(f"s{n}", batch, lambda n=n: f"partial-{n}"))  # type: ignore[misc]
        for n in range(2)
    ]
    finals = [asyncio.create_task(lanes.run_batched(batch, f"final-{n}")) for n in range(4)]
    finals.append(asyncio.create_task(lanes.run_batched(other, "other")))
    finals.append(asyncio.create_task(lanes.run_batched(batch, "final-4")))
    await asyncio.sleep(0)
    gate.open()
    results = await asyncio.gather(*finals, *partials)
    assert results == [
        "FINAL-0",
        "FINAL-1",
        "FINAL-2",
        "FINAL-3",
        "OTHER",
        "FINAL-4",
        "PARTIAL-0",
        "PARTIAL-1",
    ]
    # In order, at most 3 at once, only jobs of one function waiting in a row together,
    # and the partials after every final, in a batch of their own.
    assert batch.calls == [
        ["final-0", "final-1", "final-2"],
        ["final-3"],
        ["final-4"],
        ["partial-0", "partial-1"],
    ]
    assert other.calls == [["other"]]
    await first


async def test_an_input_its_batch_leaves_runs_alone_before_the_jobs_behind_it(
    worker: InferenceWorker,
) -> None:
    lanes = InferenceLanes(worker, max_batch=2)
    gate, first = await blocked(lanes)
    calls: list[str] = []

    def rest(value: str) -> str:
        calls.append("rest of " + value)
        return value.upper()

    def batch(values: list[str]) -> list[str | BaseException | RunAlone[str]]:
        calls.append("batch " + " ".join(values))
        return [RunAlone(partial(rest, v)) if v.startswith("slow") else v.upper() for v in values]

    jobs = [asyncio.create_task(lanes.run_batched(batch, v)) for v in ("a", "slow-b", "c")]
    optional = asyncio.create_task(lanes.offer("s", batch, lambda: "slow-partial"))
    await asyncio.sleep(0)
    gate.open()
    assert list(await asyncio.gather(*jobs)) == ["A", "SLOW-B", "C"]
    assert await optional == "SLOW-PARTIAL"
    assert calls == [
        "batch a slow-b",
        "rest of slow-b",
        "batch c",
        "batch slow-partial",
        "rest of slow-partial",
    ]
    await first


async def test_an_optional_inputs_rest_lets_the_finals_given_meanwhile_go_first(
    worker: InferenceWorker,
) -> None:
    """A speculative pass that needs a slow decode: the finals given while its batch ran go
    before its rest, which still runs, and can be promoted; a cancelled caller's never runs."""
    lanes = InferenceLanes(worker)
    calls: list[str] = []
    running, go_on = threading.Event(), threading.Event()

    def rest(value: str) -> str:
        calls.append("rest of " + value)
        return value.upper()

    def batch(values: list[str]) -> list[str | BaseException | RunAlone[str]]:
        calls.append("batch " + " ".join(values))
        running.set()
        go_on.wait(30)
        return [RunAlone(partial(rest, v)) for v in values]

    async def while_the_pass_runs(
        meanwhile: Callable[[asyncio.Task[str]], None],
    ) -> asyncio.Task[str]:
        running.clear()
        go_on.clear()
        task = asyncio.create_task(lanes.offer("s", batch, lambda: "pass", urgent=True))
        await asyncio.to_thread(running.wait, 30)
        meanwhile(task)
        go_on.set()
        return task

    finals: list[asyncio.Task[list[str]]] = []
    speculative = await while_the_pass_runs(
        lambda _: finals.append(asyncio.create_task(lanes.run(recorder(calls), ["final"])))
    )
    assert (await speculative, await finals[0]) == ("PASS", ["final"])
    assert calls == ["batch pass", "final", "rest of pass"]

    calls.clear()
    gate = Gate()
    blocker: list[asyncio.Task[str]] = []
    speculative = await while_the_pass_runs(
        lambda _: blocker.append(asyncio.create_task(lanes.run(gate, "blocker")))
    )
    await asyncio.to_thread(gate.entered.wait, 30)  # the rest waits behind it
    lanes.promote("s")  # the utterance ended: the rest is the final's work now
    later = asyncio.create_task(lanes.run(recorder(calls), ["later final"]))
    gate.open()
    assert (await speculative, await later) == ("PASS", ["later final"])
    await blocker[0]
    assert calls == ["batch pass", "rest of pass", "later final"]

    calls.clear()
    speculative = await while_the_pass_runs(lambda task: task.cancel())  # the stream went
    with pytest.raises(asyncio.CancelledError):
        await speculative
    assert await lanes.run(recorder(calls), ["after"]) == ["after"]
    assert await lanes.offer("t", recorder(calls), lambda: "next") == "next"  # no rest before it
    assert calls == ["batch pass", "after", "next"]


async def test_an_input_that_fails_in_a_batch_fails_its_own_caller_only(
    worker: InferenceWorker,
) -> None:
    lanes = InferenceLanes(worker, max_batch=4)
    gate, first = await blocked(lanes)
    batch = BatchRecorder()
    jobs = [asyncio.create_task(lanes.run_batched(batch, v)) for v in ("a", "bad-b", "c")]
    await asyncio.sleep(0)
    gate.open()
    a, b, c = await asyncio.gather(*jobs, return_exceptions=True)
    assert (a, c) == ("A", "C")
    assert isinstance(b, ValueError)
    assert str(b) == "bad-b"
    assert batch.calls == [["a", "bad-b", "c"]]
    await first

    def wrong_count(values: list[str]) -> list[str | BaseException | RunAlone[str]]:
        return ["one"]

    gate, second = await blocked(lanes)
    broken = [asyncio.create_task(lanes.run_batched(wrong_count, v)) for v in ("x", "y")]
    await asyncio.sleep(0)
    gate.open()
    for outcome in await asyncio.gather(*broken, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)
        assert "2 inputs gave 1 results" in str(outcome)
    await second


async def test_an_urgent_optional_job_waits_ahead_of_the_others(worker: InferenceWorker) -> None:
    lanes = InferenceLanes(worker)
    gate, first = await blocked(lanes)
    order: list[str] = []
    job = recorder(order)
    partials = [
        asyncio.create_task(lanes.offer("a", job, lambda: "partial-a")),
        asyncio.create_task(lanes.offer("b", job, lambda: "paused-b", urgent=True)),
        asyncio.create_task(lanes.offer("c", job, lambda: "partial-c")),
        asyncio.create_task(lanes.offer("d", job, lambda: "paused-d", urgent=True)),
    ]
    final = asyncio.create_task(lanes.run_batched(job, "final-e"))
    await asyncio.sleep(0)
    gate.open()
    await asyncio.gather(first, final, *partials)
    # finals first; then the urgent ones in their order; then the others in theirs
    assert order == ["final-e", "paused-b", "paused-d", "partial-a", "partial-c"]


async def test_a_busy_worker_skips_the_optional_jobs_that_are_not_urgent(
    worker: InferenceWorker,
) -> None:
    clock = FakeClock()
    lanes = InferenceLanes(worker, skip_optional_above=0.5, window=10.0, clock=clock)
    gate, first = await blocked(lanes)
    order: list[str] = []
    job = recorder(order)
    skipped = asyncio.create_task(lanes.offer("a", job, lambda: "partial-a"))
    urgent = asyncio.create_task(lanes.offer("b", job, lambda: "paused-b", urgent=True))
    promoted = asyncio.create_task(lanes.offer("c", job, lambda: "ended-c"))
    await asyncio.sleep(0)
    lanes.promote("c")  # c's utterance ended: its pass is a final's now, never skipped
    clock.now += 6.0  # the first job held the worker 6 s of the last 10: 60% busy
    gate.open()
    assert await first == "first"
    assert await promoted == "ended-c"
    assert await urgent == "paused-b"
    with pytest.raises(JobSkippedError, match="60% busy"):
        await skipped
    assert order == ["ended-c", "paused-b"]
    with pytest.raises(JobSkippedError):  # still busy; the key is free (not "already waiting")
        await lanes.offer("a", job, lambda: "again")
    clock.now += 20.0  # the window has forgotten the busy spell: partials run again
    assert await lanes.offer("a", job, lambda: "quiet") == "quiet"


async def test_a_worker_within_its_limit_skips_nothing(worker: InferenceWorker) -> None:
    clock = FakeClock()
    lanes = InferenceLanes(worker, skip_optional_above=0.5, window=10.0, clock=clock)
    gate, first = await blocked(lanes)
    partial = asyncio.create_task(lanes.offer("a", upper, lambda: "partial"))
    await asyncio.sleep(0)
    clock.now += 4.0  # 40% busy
    gate.open()
    assert await asyncio.gather(first, partial) == ["first", "PARTIAL"]


async def test_a_promoted_jobs_wait_counts_from_its_promotion(worker: InferenceWorker) -> None:
    clock = FakeClock()
    lanes = InferenceLanes(worker, window=10.0, clock=clock)
    gate, first = await blocked(lanes)
    paused = asyncio.create_task(lanes.offer("s", upper, lambda: "paused", urgent=True))
    await asyncio.sleep(0)
    clock.now += 3.0  # 3 s as a partial: no final waited meanwhile
    assert lanes.pressure().waiting == 0
    lanes.promote("s")  # the utterance ended: from now on a final waits
    clock.now += 0.5
    assert lanes.pressure().wait_s == pytest.approx(0.5)
    gate.open()
    assert await asyncio.gather(first, paused) == ["first", "PAUSED"]
    # the mean of the first job's wait (0 s) and the promoted one's as a final (0.5 s, not 3.5 s)
    assert lanes.pressure().wait_s == pytest.approx(0.25)

"""The playout buffer: FIFO order, padding, bounds, flush and drain."""

import asyncio

import numpy as np
import pytest

from voicegate.voice.playout import PlayoutBuffer, PlayoutOverflowError


def test_pull_preserves_order_across_chunks_and_pads_the_tail() -> None:
    buffer = PlayoutBuffer(16000)
    buffer.push(np.arange(1, 6, dtype=np.int16))
    buffer.push(np.arange(6, 9, dtype=np.int16))
    assert buffer.queued_samples == 8
    first = buffer.pull(6)
    second = buffer.pull(6)
    assert first is not None
    assert second is not None
    assert first.tolist() == [1, 2, 3, 4, 5, 6]
    assert second.tolist() == [7, 8, 0, 0, 0, 0]
    assert buffer.pull(6) is None


def test_push_past_the_bound_raises_and_keeps_what_was_queued() -> None:
    buffer = PlayoutBuffer(1000, max_seconds=1.0)
    buffer.push(np.ones(900, dtype=np.int16))
    with pytest.raises(PlayoutOverflowError, match="playout buffer full"):
        buffer.push(np.ones(200, dtype=np.int16))
    assert buffer.queued_samples == 900


async def test_flush_drops_everything_and_wakes_drain_waiters() -> None:
    buffer = PlayoutBuffer(16000)
    buffer.push(np.ones(16000, dtype=np.int16))
    waiter = asyncio.create_task(buffer.wait_drained())
    await asyncio.sleep(0)
    assert not waiter.done()
    assert buffer.flush() == 16000
    await asyncio.wait_for(waiter, 1.0)
    assert buffer.queued_seconds == 0.0
    assert buffer.pull(320) is None


async def test_drained_after_last_pull() -> None:
    buffer = PlayoutBuffer(8000)
    buffer.push(np.ones(480, dtype=np.int16))
    buffer.pull(320)
    waiter = asyncio.create_task(buffer.wait_drained())
    await asyncio.sleep(0)
    assert not waiter.done()
    buffer.pull(320)
    await asyncio.wait_for(waiter, 1.0)


def test_rejects_a_bad_rate() -> None:
    with pytest.raises(ValueError, match="sample rate must be positive"):
        PlayoutBuffer(0)


async def test_wait_audio_wakes_on_push_and_rearms_when_empty() -> None:
    buffer = PlayoutBuffer(8000)
    waiter = asyncio.create_task(buffer.wait_audio())
    await asyncio.sleep(0)
    assert not waiter.done()
    buffer.push(np.ones(160, dtype=np.int16))
    await asyncio.wait_for(waiter, 1.0)
    buffer.pull(160)
    again = asyncio.create_task(buffer.wait_audio())
    await asyncio.sleep(0)
    assert not again.done()
    again.cancel()

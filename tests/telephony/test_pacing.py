"""The pacer of phone audio: 20 ms frames in order, silence when idle, held on hold, flushed."""

from __future__ import annotations

import asyncio

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.telephony.pacing import PacedOutput
from voicegate.voice.playout import Samples


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Samples] = []
        self.changed = asyncio.Event()

    async def __call__(self, samples: Samples) -> None:
        self.sent.append(samples.copy())
        self.changed.set()

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(10):
            while len(self.sent) < count:
                self.changed.clear()
                await self.changed.wait()


def ramp(samples: int) -> AudioFrame:
    return AudioFrame(np.arange(samples, dtype=np.int16), 8000)


async def test_audio_goes_out_in_whole_frames_in_order_then_nothing_until_more_comes() -> None:
    recorder = Recorder()
    output = PacedOutput(8000, recorder)
    output.start("test")
    output.push(ramp(400))  # 50 ms: two frames and a half
    await output.wait_played()
    await output.stop()
    assert [len(frame) for frame in recorder.sent] == [160, 160, 160]
    joined = np.concatenate(recorder.sent)
    assert np.array_equal(joined[:400], np.arange(400))
    assert not joined[400:].any()


async def test_idle_silence_holds_on_pause_and_a_flush_drops_the_queue() -> None:
    recorder = Recorder()
    output = PacedOutput(8000, recorder, idle_silence=True)
    output.start("test")
    await recorder.wait_for(2)
    assert not np.concatenate(recorder.sent).any()  # silence while nothing is queued
    output.pause()
    output.push(ramp(1600))
    await asyncio.sleep(0.1)
    held = len(recorder.sent)
    assert output.buffer.queued_samples == 1600  # nothing of it was sent on hold
    output.flush()
    output.resume()
    await recorder.wait_for(held + 3)
    await output.stop()
    assert not np.concatenate(recorder.sent[held:]).any()  # the flushed audio never went out

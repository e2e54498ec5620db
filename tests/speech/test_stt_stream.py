"""STTStream's scheduling of passes, with a counting provider (unit test; the real model
runs in test_streaming.py and in the voice session tests)."""

from __future__ import annotations

import asyncio

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.stt.base import STTProvider, Transcript


class CountingSTT(STTProvider):
    """Answers with the number of samples it was given, after a short delay."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def transcribe(self, audio: AudioFrame, language: str | None = None) -> Transcript:
        self.calls.append(audio.num_samples)
        await asyncio.sleep(0.02)
        return Transcript(str(audio.num_samples), language or "en", audio.duration, 0.02)


def _frames(count: int) -> list[AudioFrame]:
    return [AudioFrame(np.ones(320, dtype=np.int16), 16000) for _ in range(count)]


async def test_settle_makes_the_final_a_reuse_when_no_speech_follows() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=10.0)
    for frame in _frames(25):
        stream.push(frame)
    stream.settle()
    await asyncio.sleep(0.05)
    final = await stream.finish()
    assert final.text == str(25 * 320)
    assert final.is_final
    assert provider.calls == [25 * 320]  # one pass, done during the pause


async def test_settle_during_a_partial_chains_a_pass_over_everything() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=0.2)
    for frame in _frames(10):  # 0.2 s: a partial is asked for
        stream.push(frame)
    await asyncio.sleep(0)  # its turn comes: it takes the 10 frames
    for frame in _frames(5):
        stream.push(frame)
    stream.settle()  # the partial over 10 frames is still running
    final = await stream.finish()
    assert provider.calls == [10 * 320, 15 * 320]
    assert final.text == str(15 * 320)


async def test_a_partial_takes_the_audio_there_is_when_its_turn_comes() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=0.2)
    for frame in _frames(10):  # a partial is asked for ...
        stream.push(frame)
    for frame in _frames(5):  # ... and, before its turn came, more speech
        stream.push(frame)
    stream.settle()
    final = await stream.finish()
    assert provider.calls == [15 * 320]  # one pass over everything, reused as the final
    assert final.text == str(15 * 320)


async def test_speech_after_settle_cancels_the_pending_pass() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=0.2)
    for frame in _frames(10):
        stream.push(frame)
    await asyncio.sleep(0)  # the partial starts
    stream.settle()  # nothing new since the running partial started: no extra pass
    for frame in _frames(2):
        stream.push(frame)  # speech resumed: the pending settle is dropped
    await asyncio.sleep(0.05)
    assert provider.calls == [10 * 320]
    final = await stream.finish()
    assert provider.calls == [10 * 320, 12 * 320]
    assert final.text == str(12 * 320)

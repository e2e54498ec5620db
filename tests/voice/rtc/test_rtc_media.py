"""Audio both ways between a real aiortc client and the answering side, over loopback UDP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest

from tests.voice.rtc.peers import TONE_DBFS, TONE_HZ, Call
from voicegate.audio.frame import AudioFrame
from voicegate.voice.rtc import read_audio

LOUD_DBFS = -30.0
SILENT_DBFS = -60.0
FLUSH_FRAMES_BOUND = 10
"""Issue 4's bound: audio stops within 200 ms (10 frames of 20 ms). Measured: 6 frames, the
frame in flight plus aiortc's receive jitter buffer (4 frames of prefetch) and the first silent
frame; the sender itself goes silent on its very next frame (test_rtc_outbound)."""


def peak_hz(frames: list[AudioFrame]) -> float:
    """The strongest frequency in the concatenated frames."""
    samples = np.concatenate([f.samples[:, 0] for f in frames]).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.argmax(spectrum) * frames[0].sample_rate / samples.size)


async def loud_frames(frames: AsyncIterator[AudioFrame], count: int) -> list[AudioFrame]:
    """Skip the start-up silence, then return ``count`` consecutive frames."""
    async for frame in frames:
        if frame.dbfs() > LOUD_DBFS:
            return [frame] + [await anext(frames) for _ in range(count - 1)]
    raise AssertionError("the track ended before any audio arrived")


def tone(hz: float, seconds: float, sample_rate: int, amplitude: float = 0.25) -> AudioFrame:
    """A sine at ``amplitude`` of full scale."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    return AudioFrame.from_float32(amplitude * np.sin(2 * np.pi * hz * t), sample_rate)


@pytest.mark.parametrize("sample_rate", [48_000, 16_000])
async def test_inbound_audio_is_mono_at_the_requested_rate_and_level(
    call: Call, sample_rate: int
) -> None:
    frames = read_audio(call.server.inbound_audio, sample_rate)
    async with asyncio.timeout(5):
        received = await loud_frames(frames, 25)
    assert {f.sample_rate for f in received} == {sample_rate}
    assert {f.channels for f in received} == {1}
    level = AudioFrame(np.concatenate([f.samples for f in received]), sample_rate).dbfs()
    assert level == pytest.approx(TONE_DBFS, abs=2.0)
    assert peak_hz(received) == pytest.approx(TONE_HZ, abs=5.0)


async def test_inbound_audio_ends_when_the_client_hangs_up(call: Call) -> None:
    frames = read_audio(call.server.inbound_audio)
    async with asyncio.timeout(5):
        await loud_frames(frames, 1)
        await call.client.close()
        async for _ in frames:
            pass
    assert call.server.inbound_audio.readyState == "ended"


async def test_pushed_audio_reaches_the_client_resampled_at_its_level(call: Call) -> None:
    call.to_client.push(tone(1000.0, 1.0, 22_050))
    frames = read_audio(call.client_inbound)
    async with asyncio.timeout(5):
        received = await loud_frames(frames, 20)
        await call.to_client.drained()
    level = AudioFrame(np.concatenate([f.samples for f in received]), 48_000).dbfs()
    assert level == pytest.approx(TONE_DBFS, abs=2.0)
    assert peak_hz(received) == pytest.approx(1000.0, abs=10.0)
    assert call.to_client.queued_seconds == 0.0


async def test_flush_silences_the_client_within_a_few_frames(call: Call) -> None:
    call.to_client.push(tone(1000.0, 3.0, 16_000))
    frames = read_audio(call.client_inbound)
    async with asyncio.timeout(5):
        await loud_frames(frames, 10)
        dropped = call.to_client.flush()
        after_flush = []
        async for frame in frames:
            after_flush.append(frame.dbfs())
            if frame.dbfs() < SILENT_DBFS:
                break
    assert dropped > 2.0
    assert len(after_flush) <= FLUSH_FRAMES_BOUND

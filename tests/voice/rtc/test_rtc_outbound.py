"""PacedAudioTrack on its own: frame format, pacing, push/flush/drain, bounds, ending."""

from __future__ import annotations

import asyncio
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from voicegate.audio.frame import AudioFrame
from voicegate.voice.playout import PlayoutOverflowError
from voicegate.voice.rtc import PacedAudioTrack
from voicegate.voice.rtc.frames import from_av_frame
from voicegate.voice.rtc.outbound import MAX_BEHIND_S


def noise(seconds: float, sample_rate: int, channels: int = 1) -> AudioFrame:
    """Loud random int16 audio."""
    rng = np.random.default_rng(7)
    shape = (round(seconds * sample_rate), channels)
    return AudioFrame(rng.integers(-8000, 8000, shape, dtype=np.int16), sample_rate)


async def received(track: PacedAudioTrack) -> AudioFrame:
    """The track's next frame as an AudioFrame."""
    return from_av_frame(await track.recv())


async def test_frames_are_20ms_of_48khz_stereo_s16_with_sample_pts() -> None:
    track = PacedAudioTrack()
    frames = [await track.recv() for _ in range(3)]
    assert [f.pts for f in frames] == [0, 960, 1920]
    for frame in frames:
        assert isinstance(frame, av.AudioFrame)
        assert (frame.samples, frame.sample_rate) == (960, 48_000)
        assert (frame.format.name, frame.layout.name) == ("s16", "stereo")
        assert frame.time_base == Fraction(1, 48_000)
        assert not frame.to_ndarray().any()


async def test_each_frame_waits_for_its_real_time_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Frame n is due n x 20 ms after the first, whatever the caller's own delays (a fake
    clock: no wall-clock timing)."""
    now = [100.0]
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)
        now[0] += delay

    monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: now[0])
    monkeypatch.setattr("voicegate.voice.rtc.outbound.asyncio.sleep", sleep)
    track = PacedAudioTrack()
    await track.recv()
    for _ in range(3):
        await track.recv()
    assert slept == pytest.approx([0.02, 0.02, 0.02])
    now[0] += 0.05  # the caller was late by two and a half frames
    late = [await track.recv() for _ in range(3)]
    assert [frame.pts for frame in late] == [3840, 4800, 5760]
    assert slept[3:] == pytest.approx([0.01])  # caught up without sleeping, then on time
    assert now[0] == pytest.approx(100.0 + 6 * 0.02)


async def test_pushed_audio_is_downmixed_resampled_and_played_on_both_channels() -> None:
    track = PacedAudioTrack()
    t = np.arange(1600) / 16_000
    left = np.rint(16384 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
    track.push(AudioFrame(np.stack([left, np.zeros_like(left)], axis=1), 16_000))
    assert track.queued_seconds == pytest.approx(0.1, abs=0.001)
    frame = await received(track)
    assert frame.channels == 2
    assert np.array_equal(frame.samples[:, 0], frame.samples[:, 1])
    steady = AudioFrame(frame.samples[480:, :1], 48_000)
    assert steady.dbfs() == pytest.approx(20 * np.log10(0.25 / np.sqrt(2)), abs=0.5)
    assert track.queued_seconds == pytest.approx(0.08, abs=0.001)


async def test_flush_drops_everything_and_the_next_frame_is_silent() -> None:
    track = PacedAudioTrack()
    track.push(noise(1.0, 48_000))
    assert (await received(track)).dbfs() > -20.0
    assert track.flush() == pytest.approx(0.98)
    assert track.queued_seconds == 0.0
    assert not (await received(track)).samples.any()
    async with asyncio.timeout(1):
        await track.drained()


async def test_drained_returns_once_queued_audio_has_played() -> None:
    track = PacedAudioTrack()
    track.push(noise(0.05, 48_000))
    drained = asyncio.create_task(track.drained())
    for _ in range(2):
        await track.recv()
        await asyncio.sleep(0)
        assert not drained.done()
    await track.recv()
    async with asyncio.timeout(1):
        await drained


async def test_pushing_past_the_bound_raises_and_keeps_what_was_queued() -> None:
    track = PacedAudioTrack(max_queued_seconds=0.1)
    track.push(noise(0.06, 48_000))
    with pytest.raises(PlayoutOverflowError, match="full"):
        track.push(noise(0.06, 48_000))
    assert track.queued_seconds == pytest.approx(0.06)


async def test_a_stopped_track_ends_and_ignores_pushes() -> None:
    track = PacedAudioTrack()
    track.push(noise(0.5, 48_000))
    track.stop()
    track.push(noise(0.5, 48_000))
    assert track.queued_seconds == 0.0
    await track.drained()
    with pytest.raises(MediaStreamError):
        await track.recv()


async def test_a_track_stalled_past_the_limit_skips_its_missed_frames_and_keeps_its_audio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After its loop stalled 300 ms (a fake clock), the next frame's timestamp jumps to where
    real time is, and carries the audio queued next: the receiver conceals a gap, no audio is
    dropped."""
    now = [100.0]
    monkeypatch.setattr(asyncio.get_running_loop(), "time", lambda: now[0])
    track = PacedAudioTrack()
    await track.recv()
    track.push(noise(0.02, 48_000))
    now[0] += 0.3
    frame = await track.recv()
    assert frame.pts == round(0.3 * 48_000)
    assert from_av_frame(frame).samples.any()
    now[0] += 0.02 + MAX_BEHIND_S / 2  # late within the limit: the frame goes out as it is
    assert (await track.recv()).pts == round(0.32 * 48_000)

"""Conversions between PyAV frames and AudioFrame, and the shared mono converter."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.voice.rtc.frames import MonoConverter, from_av_frame, to_av_frame


def test_stereo_round_trip_keeps_channels_samples_and_time() -> None:
    left = np.arange(960, dtype=np.int16)
    samples = np.stack([left, -left], axis=1)
    frame = to_av_frame(AudioFrame(samples, 48_000), pts=4800)
    assert (frame.layout.name, frame.time_base) == ("stereo", Fraction(1, 48_000))
    back = from_av_frame(frame)
    assert np.array_equal(back.samples, samples)
    assert back.timestamp == pytest.approx(0.1)


def test_only_packed_s16_audio_is_accepted() -> None:
    planar = av.AudioFrame(format="fltp", layout="stereo", samples=960)
    with pytest.raises(ValueError, match="expected packed s16"):
        from_av_frame(planar)
    with pytest.raises(TypeError, match="expected an audio frame"):
        from_av_frame(av.Packet(b"\x00"))


def test_mono_converter_downmixes_then_resamples_across_rate_changes() -> None:
    converter = MonoConverter(16_000)
    stereo = np.full((960, 2), [1000, 3000], dtype=np.int16)
    out = converter.convert(AudioFrame(stereo, 48_000))
    assert (out.channels, out.sample_rate) == (1, 16_000)
    assert out.num_samples == 320
    assert np.all(np.abs(out.samples[-100:, 0] - 2000) <= 2)
    assert converter.convert(AudioFrame(np.zeros(160, np.int16), 8_000)).num_samples == 320
    assert converter.convert(AudioFrame(np.zeros(320, np.int16), 16_000)).num_samples == 320

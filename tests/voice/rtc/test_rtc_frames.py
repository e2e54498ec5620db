"""Conversions between PyAV frames and AudioFrame."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.voice.rtc.frames import from_av_frame, to_av_frame


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

"""AudioFrame conversions, zero-copy views and levels."""

from __future__ import annotations

import numpy as np
import pytest

from voicegate.audio import AudioFrame
from voicegate.audio.frame import SILENCE_DBFS

from .conftest import tone


def test_from_bytes_is_a_zero_copy_view() -> None:
    data = bytearray(np.arange(8, dtype="<i2").tobytes())
    frame = AudioFrame.from_bytes(data, 16000, channels=2, timestamp=1.5)
    assert frame.samples.shape == (4, 2)
    assert np.shares_memory(frame.samples, np.frombuffer(data, dtype=np.uint8))
    data[0] = 99
    assert frame.samples[0, 0] == 99
    assert (frame.channels, frame.num_samples, frame.timestamp) == (2, 4, 1.5)
    assert frame.duration == pytest.approx(4 / 16000)


def test_bytes_round_trip() -> None:
    pcm = (np.arange(-500, 500, dtype=np.int16) * 37).tobytes()
    assert AudioFrame.from_bytes(pcm, 8000).to_bytes() == pcm


@pytest.mark.parametrize(("size", "channels"), [(3, 1), (6, 2), (2, 2)])
def test_from_bytes_rejects_partial_samples(size: int, channels: int) -> None:
    with pytest.raises(ValueError, match="whole number"):
        AudioFrame.from_bytes(b"\0" * size, 16000, channels)


def test_rejects_bad_arrays() -> None:
    with pytest.raises(ValueError, match="int16"):
        AudioFrame(np.zeros(10, dtype=np.float32), 16000)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sample_rate"):
        AudioFrame(np.zeros(10, dtype=np.int16), 0)
    with pytest.raises(ValueError, match="channels"):
        AudioFrame.from_bytes(b"", 16000, channels=0)


def test_float32_round_trip() -> None:
    values = np.array([[-1.0], [-0.5], [0.0], [0.25], [0.999]], dtype=np.float32)
    frame = AudioFrame.from_float32(values, 16000)
    assert frame.samples[:, 0].tolist() == [-32768, -16384, 0, 8192, 32735]
    np.testing.assert_allclose(frame.to_float32(), values, atol=1 / 32768)
    clipped = AudioFrame.from_float32(np.array([2.0, -2.0]), 16000)
    assert clipped.samples[:, 0].tolist() == [32767, -32768]


def test_downmix_averages_stereo() -> None:
    stereo = np.array([[1000, 3000], [-200, 200], [32767, 32767]], dtype=np.int16)
    mono = AudioFrame(stereo, 48000, 2.0).downmix()
    assert mono.samples[:, 0].tolist() == [2000, 0, 32767]
    assert (mono.channels, mono.sample_rate, mono.timestamp) == (1, 48000, 2.0)


def test_levels() -> None:
    full_scale = AudioFrame(np.rint(tone(1000, 16000, 1.0, 1.0)).astype(np.int16), 16000)
    assert full_scale.dbfs() == pytest.approx(-3.01, abs=0.02)
    quiet = AudioFrame(np.rint(tone(1000, 16000, 1.0, 0.01)).astype(np.int16), 16000)
    assert quiet.dbfs() == pytest.approx(-43.01, abs=0.05)
    silence = AudioFrame(np.zeros((320, 1), np.int16), 16000)
    assert silence.rms() == 0.0
    assert silence.dbfs() == SILENCE_DBFS

"""WAV files to and from AudioFrame."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from voicegate.audio import AudioFrame, read_wav, write_wav


def test_round_trip(tmp_path: Path) -> None:
    samples = np.arange(-3000, 3000, 3, dtype=np.int16).reshape(-1, 2)
    write_wav(tmp_path / "a.wav", AudioFrame(samples, 24000))
    back = read_wav(tmp_path / "a.wav")
    assert (back.sample_rate, back.channels) == (24000, 2)
    np.testing.assert_array_equal(back.samples, samples)


def test_other_formats_are_clear_errors(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "8bit.wav"), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(1)
        writer.setframerate(8000)
        writer.writeframes(b"\x80" * 100)
    with pytest.raises(ValueError, match="8-bit WAV"):
        read_wav(tmp_path / "8bit.wav")
    float_header = (
        b"RIFF"
        + (36 + 8).to_bytes(4, "little")
        + b"WAVEfmt "
        + (16).to_bytes(4, "little")
        + (3).to_bytes(2, "little")
        + (1).to_bytes(2, "little")
        + (16000).to_bytes(4, "little")
        + (64000).to_bytes(4, "little")
        + (4).to_bytes(2, "little")
        + (32).to_bytes(2, "little")
        + b"data"
        + (8).to_bytes(4, "little")
        + b"\0" * 8
    )
    (tmp_path / "float.wav").write_bytes(float_header)
    with pytest.raises(ValueError, match="not a 16-bit PCM WAV"):
        read_wav(tmp_path / "float.wav")
    (tmp_path / "text.wav").write_text("hello")
    with pytest.raises(ValueError, match=r"not a 16-bit PCM WAV|truncated"):
        read_wav(tmp_path / "text.wav")

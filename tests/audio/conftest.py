"""Shared fixtures and signal helpers for the audio tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from voicegate.audio import AudioFrame, read_wav

SENTENCES = (
    "The quick brown fox jumps over the lazy dog",
    "Please call me back tomorrow morning",
    "Seven hundred people waited at the station",
    "Turn the lights off when you leave the room",
)

BLACKMAN_HARRIS = (0.35875, 0.48829, 0.14128, 0.01168)


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> npt.NDArray[np.float64]:
    """A sine in int16 scale."""
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * 32767.0 * np.sin(2 * np.pi * freq * t)


def spectrum_dbc(signal: npt.NDArray[np.floating], amplitude: float) -> npt.NDArray[np.float64]:
    """Magnitude spectrum (4-term Blackman-Harris, sidelobes < -92 dB) in dB re ``amplitude``."""
    n = np.arange(len(signal))
    phase = 2 * np.pi * n / (len(signal) - 1)
    a0, a1, a2, a3 = BLACKMAN_HARRIS
    window = a0 - a1 * np.cos(phase) + a2 * np.cos(2 * phase) - a3 * np.cos(3 * phase)
    magnitude = np.abs(np.fft.rfft(signal * window)) / (window.sum() / 2)
    return 20 * np.log10(np.maximum(magnitude, 1e-12) / amplitude)


@pytest.fixture(scope="session")
def espeak_utterances(tmp_path_factory: pytest.TempPathFactory) -> list[AudioFrame]:
    """Real synthetic speech: one espeak-ng WAV (22.05 kHz mono) per sentence."""
    folder: Path = tmp_path_factory.mktemp("espeak")
    frames = []
    for index, sentence in enumerate(SENTENCES):
        path = folder / f"utterance{index}.wav"
        subprocess.run(["espeak-ng", "-w", str(path), sentence], check=True, timeout=60)
        frames.append(read_wav(path))
    return frames

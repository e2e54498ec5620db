"""Steady noise is told from speech by how little its level moves."""

from __future__ import annotations

import numpy as np

from voicegate.audio.noise import STEADY_RANGE_DB, is_steady_noise, level_range_db
from voicegate.audio.resample import resample
from voicegate.bench.espeak import espeak

RATE = 16000
rng = np.random.default_rng(7)


def test_silence_hiss_and_hum_are_steady() -> None:
    seconds = np.arange(2 * RATE) / RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * seconds) / k for k in (1, 2, 3))
    for noise in (
        np.zeros(2 * RATE),
        rng.normal(0, 0.3, 2 * RATE),  # loud white noise
        np.convolve(rng.normal(0, 0.1, 2 * RATE), np.ones(6) / 6, "same"),  # pinker
        0.2 * hum + rng.normal(0, 0.01, 2 * RATE),
    ):
        assert is_steady_noise(noise, RATE)


def test_speech_is_not_even_in_as_much_noise() -> None:
    speech = resample(espeak("Please call me back tomorrow morning.", "en"), RATE)
    samples = speech.to_float32()[:, 0]
    assert level_range_db(samples, RATE) > 5 * STEADY_RANGE_DB
    loudness = float(np.sqrt(np.mean(samples**2)))
    noisy = samples + rng.normal(0, loudness, len(samples)).astype(np.float32)  # 0 dB SNR
    assert not is_steady_noise(noisy, RATE)


def test_under_one_frame_has_no_range() -> None:
    assert level_range_db(np.ones(100), RATE) == 0.0

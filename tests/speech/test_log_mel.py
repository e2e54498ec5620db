"""The short window's log-Mel features equal faster-whisper's, on real recordings."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from voicegate.audio.resample import resample
from voicegate.bench.prompts import load_prompts
from voicegate.stt.log_mel import LogMel

NAMES = ("digits/50", "vm-goodbye", "vm-tempgreeting2")


@pytest.mark.parametrize("bands", [80, 128])  # tiny.en and base; large-v3's 128
def test_features_equal_faster_whispers_extractor(bands: int) -> None:
    extractor = FeatureExtractor(feature_size=bands)
    log_mel = LogMel(extractor)
    prompts = {prompt.name: prompt for prompt in load_prompts()}
    for name in NAMES:
        for rate in (16000, 8000):
            audio = resample(prompts[name].audio(rate), 16000).to_float32()[:, 0]
            ours, theirs = log_mel(audio), extractor(audio)
            assert ours.dtype == np.float32
            assert ours.shape == theirs.shape == (bands, len(audio) // 160 + 1)
            assert np.abs(ours - theirs).max() < 1e-5, (name, rate)


def test_a_window_is_the_audio_padded_with_silence() -> None:
    extractor = FeatureExtractor()
    log_mel = LogMel(extractor)
    audio = next(p for p in load_prompts() if p.name == "vm-goodbye").audio().to_float32()[:, 0]
    frames = len(audio) // 160 + 300  # 3 s of silence after it
    silent = np.concatenate([audio, np.zeros(frames * 160 - len(audio), dtype=np.float32)])
    window = log_mel.window(audio, frames)
    assert window.shape == (1, 80, frames)
    assert window.flags.c_contiguous
    assert np.abs(window[0] - extractor(silent)[:, :frames]).max() < 1e-5

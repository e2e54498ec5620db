"""WebRTCVAD and EnergyVAD on real and synthetic audio; errors for frames they cannot take."""

from __future__ import annotations

import numpy as np
import pytest

from voicegate.audio import AudioFrame, EnergyVAD, WebRTCVAD, resample

from .conftest import tone


def frames_of(frame: AudioFrame, ms: int) -> list[AudioFrame]:
    size = frame.sample_rate * ms // 1000
    return [
        AudioFrame(frame.samples[i : i + size], frame.sample_rate, i / frame.sample_rate)
        for i in range(0, frame.num_samples - size + 1, size)
    ]


@pytest.mark.parametrize("ms", [10, 20, 30])
def test_webrtc_vad_finds_real_speech_not_silence(
    espeak_utterances: list[AudioFrame], ms: int
) -> None:
    speech = resample(espeak_utterances[0], 16000)
    stream = WebRTCVAD(aggressiveness=3).new_stream()
    decisions = [stream.is_speech(f) for f in frames_of(speech, ms)]
    assert np.mean(decisions) > 0.6
    silence = AudioFrame(np.zeros(16000, np.int16), 16000)
    assert not any(stream.is_speech(f) for f in frames_of(silence, ms))


@pytest.mark.parametrize("samples", [0, 100, 161, 320 + 1, 640])
def test_webrtc_vad_rejects_other_frame_sizes(samples: int) -> None:
    stream = WebRTCVAD().new_stream()
    with pytest.raises(ValueError, match="10, 20 or 30 ms"):
        stream.is_speech(AudioFrame(np.zeros(samples, np.int16), 16000))


def test_webrtc_vad_rejects_wrong_rate_channels_and_settings() -> None:
    stream = WebRTCVAD(sample_rate=16000).new_stream()
    with pytest.raises(ValueError, match="expects 16000 Hz"):
        stream.is_speech(AudioFrame(np.zeros(441, np.int16), 22050))
    with pytest.raises(ValueError, match="mono"):
        stream.is_speech(AudioFrame(np.zeros((320, 2), np.int16), 16000))
    with pytest.raises(ValueError, match="aggressiveness"):
        WebRTCVAD(aggressiveness=4)
    with pytest.raises(ValueError, match="supports"):
        WebRTCVAD(sample_rate=22050)


def test_streams_of_one_provider_keep_separate_state() -> None:
    provider = EnergyVAD(start_dbfs=-30, stop_dbfs=-50)
    first, second = provider.new_stream(), provider.new_stream()
    loud = AudioFrame(np.rint(tone(500, 16000, 0.02, 0.5)).astype(np.int16), 16000)
    medium = AudioFrame(np.rint(tone(500, 16000, 0.02, 0.01)).astype(np.int16), 16000)
    assert first.is_speech(loud)
    assert first.is_speech(medium), "hysteresis: -43 dBFS stays speech once started"
    assert not second.is_speech(medium), "a fresh stream needs -30 dBFS to start"


def test_energy_vad_hysteresis() -> None:
    stream = EnergyVAD(start_dbfs=-30, stop_dbfs=-40).new_stream()
    levels = [0.001, 0.05, 0.02, 0.015, 0.005, 0.02, 0.05]
    frames = [
        AudioFrame(np.rint(tone(300, 16000, 0.02, a)).astype(np.int16), 16000) for a in levels
    ]
    assert [stream.is_speech(f) for f in frames] == [False, True, True, True, False, False, True]
    with pytest.raises(ValueError, match="must not exceed"):
        EnergyVAD(start_dbfs=-40, stop_dbfs=-30)

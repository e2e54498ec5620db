"""The inbound mixer: batched passes, per-session timing, silence on stalls, bounds."""

import asyncio

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.audio.vad import EnergyVAD
from voicegate.voice.inbound import InboundMixer

Received = list[tuple[AudioFrame, bool, float]]


def _tone(rate: int, channels: int, ms: int, amplitude: int = 8000) -> AudioFrame:
    n = rate * ms // 1000
    t = np.arange(n) / rate
    mono = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return AudioFrame(np.repeat(mono[:, None], channels, axis=1), rate)


def _collector(into: Received):
    return lambda frame, speech, dbfs: into.append((frame, speech, dbfs))


async def test_a_lone_session_is_processed_as_its_audio_arrives() -> None:
    mixer = InboundMixer(EnergyVAD())
    got: Received = []
    mixer.add_session("a", 48000, 2, _collector(got))
    mixer.push("a", _tone(48000, 2, 20))
    assert len(got) == 1
    frame, speech, dbfs = got[0]
    assert (frame.sample_rate, frame.channels, frame.num_samples) == (16000, 1, 320)
    assert speech
    assert dbfs > -20
    mixer.push("a", _tone(48000, 2, 50))  # 2.5 frames: two passes now, half a frame waits
    assert [f.timestamp for f, _, _ in got] == pytest.approx([0.0, 0.02, 0.04])
    await mixer.close()


async def test_sessions_of_one_format_share_passes_and_keep_their_own_clock() -> None:
    mixer = InboundMixer(EnergyVAD())
    a: Received = []
    b: Received = []
    mixer.add_session("a", 16000, 1, _collector(a))
    mixer.push("a", _tone(16000, 1, 20))
    mixer.add_session("b", 16000, 1, _collector(b))
    mixer.push("a", _tone(16000, 1, 20))
    assert len(a) == 1  # waits for b
    mixer.push("b", _tone(16000, 1, 20, amplitude=0))
    assert (len(a), len(b)) == (2, 1)
    assert b[0][0].timestamp == 0.0  # b's stream starts when b joined
    assert a[1][1]
    assert not b[0][1]
    await mixer.close()


async def test_a_stalled_session_gets_silence_so_time_goes_on() -> None:
    mixer = InboundMixer(EnergyVAD(), max_wait_ms=40)
    got: Received = []
    mixer.add_session("a", 16000, 1, _collector(got))
    mixer.push("a", _tone(16000, 1, 20))
    await asyncio.sleep(0.3)
    assert len(got) >= 4
    # the frame after the tone still holds the resampler's 2 ms tail; then silence
    assert all(not speech for _, speech, _ in got[2:])
    mixer.remove_session("a")
    await mixer.close()


async def test_backlog_is_bounded_and_wrong_formats_are_refused() -> None:
    mixer = InboundMixer(EnergyVAD(), max_buffer_ms=100)
    got: Received = []
    mixer.add_session("a", 16000, 1, _collector(got))
    mixer.add_session("b", 16000, 1, _collector([]))
    mixer.push("a", _tone(16000, 1, 500))  # b sends nothing: a's backlog is cut to 100 ms
    mixer.push("b", _tone(16000, 1, 200))
    assert len(got) == 5
    with pytest.raises(ValueError, match="sends 16000 Hz x 1"):
        mixer.push("a", _tone(48000, 2, 20))
    with pytest.raises(ValueError, match="does not divide"):
        mixer.add_session("c", 11025, 1, _collector([]))
    await mixer.close()

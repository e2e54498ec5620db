"""The inbound mixer: batched passes, no waiting between sessions, silence for stalled clients."""

import asyncio
import logging

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.audio.vad import EnergyVAD
from voicegate.testing import FakeClock
from voicegate.voice.inbound import STREAM_STALL_MS, InboundMixer

Received = list[tuple[AudioFrame, bool, float]]


def _tone(rate: int, channels: int, ms: int, amplitude: int = 8000) -> AudioFrame:
    n = rate * ms // 1000
    t = np.arange(n) / rate
    mono = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return AudioFrame(np.repeat(mono[:, None], channels, axis=1), rate)


def _collector(into: Received):
    return lambda frame, speech, dbfs: into.append((frame, speech, dbfs))


async def _settle() -> None:
    """Let the pass scheduled for this loop iteration run."""
    await asyncio.sleep(0)


async def test_a_session_is_processed_in_the_loop_iteration_its_audio_arrives() -> None:
    mixer = InboundMixer(EnergyVAD())
    got: Received = []
    mixer.add_session("a", 48000, 2, _collector(got))
    mixer.push("a", _tone(48000, 2, 20))
    assert got == []  # batched at the end of the iteration
    await _settle()
    assert len(got) == 1
    frame, speech, dbfs = got[0]
    assert (frame.sample_rate, frame.channels, frame.num_samples) == (16000, 1, 320)
    assert speech
    assert dbfs > -20
    mixer.push("a", _tone(48000, 2, 50))  # 2.5 frames: two now, half a frame waits
    await _settle()
    assert [f.timestamp for f, _, _ in got] == pytest.approx([0.0, 0.02, 0.04])
    await mixer.close()


async def test_sessions_never_wait_for_each_other_and_keep_their_own_clock() -> None:
    mixer = InboundMixer(EnergyVAD())
    a: Received = []
    b: Received = []
    mixer.add_session("a", 16000, 1, _collector(a))
    mixer.add_session("b", 16000, 1, _collector(b))
    mixer.push("a", _tone(16000, 1, 100))  # b sends nothing: a is processed anyway
    await _settle()
    assert (len(a), len(b)) == (5, 0)
    mixer.push("a", _tone(16000, 1, 20))
    mixer.push("b", _tone(16000, 1, 20, amplitude=0))
    await _settle()  # one batched pass for both
    assert (len(a), len(b)) == (6, 1)
    assert b[0][0].timestamp == 0.0
    assert a[5][1]
    assert not b[0][1]
    await mixer.close()


async def test_a_stalled_session_gets_silence_so_time_goes_on() -> None:
    mixer = InboundMixer(EnergyVAD())
    got: Received = []
    mixer.add_session("a", 16000, 1, _collector(got), stall_ms=60)
    mixer.push("a", _tone(16000, 1, 20))
    await asyncio.sleep(0.3)
    assert len(got) >= 8
    # the frame after the tone still holds the resampler's 2 ms tail; then silence
    assert all(not speech for _, speech, _ in got[2:])
    timestamps = [frame.timestamp for frame, _, _ in got]
    assert timestamps == pytest.approx([0.02 * i for i in range(len(got))])
    mixer.remove_session("a")
    await mixer.close()


async def test_a_stall_is_logged_with_the_silence_fed_in_its_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mixer = InboundMixer(EnergyVAD())
    mixer.add_session("a", 16000, 1, _collector([]), stall_ms=60)
    loop = asyncio.get_running_loop()
    with caplog.at_level(logging.DEBUG, logger="voicegate.voice.inbound"):
        mixer.push("a", _tone(16000, 1, 20))
        began = loop.time()
        await asyncio.sleep(0.3)
        mixer.push("a", _tone(16000, 1, 20))
        stalled_ms = (loop.time() - began) * 1000
    stalls = [r.getMessage() for r in caplog.records if "no audio for" in r.getMessage()]
    again = [r.getMessage() for r in caplog.records if "audio again" in r.getMessage()]
    assert len(stalls) == 1  # once per stall, not once per silent frame
    assert len(again) == 1
    fed_ms = int(again[0].split("after a stall: ")[1].split(" ms")[0])
    assert 0 < fed_ms <= stalled_ms
    assert fed_ms % 20 == 0  # whole frames of silence
    mixer.remove_session("a")
    await mixer.close()


class _ReadClock(FakeClock):
    """A FakeClock that says when it is read: the mixer's watchdog reads it once per look."""

    def __init__(self) -> None:
        super().__init__()
        self.read = asyncio.Event()

    def __call__(self) -> float:
        self.read.set()
        return super().__call__()


async def test_a_server_held_up_feeds_no_silence_into_audio_it_has_not_read_yet() -> None:
    clock = _ReadClock()
    mixer = InboundMixer(EnergyVAD(), clock=clock)
    got: Received = []
    mixer.add_session("a", 16000, 1, _collector(got))
    mixer.push("a", _tone(16000, 1, 20))
    await _settle()
    clock.advance(1.0)  # the loop was held up a second: the client's next audio waits unread
    clock.read.clear()
    await clock.read.wait()  # the watchdog looks first, as a busy loop may let it
    mixer.push("a", _tone(16000, 1, 20))
    await _settle()
    # the second tone follows the first: no second of silence was put between them
    assert [frame.timestamp for frame, _, _ in got] == pytest.approx([0.0, 0.02])
    assert all(speech for _, speech, _ in got)
    mixer.remove_session("a")
    await mixer.close()


async def test_a_client_sending_1_s_frames_in_real_time_is_not_stalled_between_them() -> None:
    clock = _ReadClock()
    mixer = InboundMixer(EnergyVAD(), clock=clock)
    got: Received = []
    mixer.add_session("a", 16000, 1, _collector(got))
    mixer.push("a", _tone(16000, 1, 1000))
    await _settle()
    for _ in range(45):  # 0.9 s go by in steps the watchdog sees: no hold-up of the server
        clock.advance(0.02)
        clock.read.clear()
        await clock.read.wait()
    mixer.push("a", _tone(16000, 1, 1000))
    await _settle()
    # the first frame's audio covers the time until the second: no silence between them
    assert [frame.timestamp for frame, _, _ in got] == pytest.approx([0.02 * i for i in range(100)])
    assert all(speech for _, speech, _ in got)
    mixer.remove_session("a")
    await mixer.close()


async def test_each_session_has_its_own_stall_time() -> None:
    """Audio over TCP held up 0.6 s (a segment sent again) comes late, not never: its
    session is fed no silence, while a datagram session's gap that long is silence."""
    clock = _ReadClock()
    mixer = InboundMixer(EnergyVAD(), clock=clock)
    datagrams: Received = []
    stream: Received = []
    mixer.add_session("rtp", 16000, 1, _collector(datagrams))
    mixer.add_session("tcp", 16000, 1, _collector(stream), stall_ms=STREAM_STALL_MS)
    for session in ("rtp", "tcp"):
        mixer.push(session, _tone(16000, 1, 20))
    await _settle()
    for _ in range(30):  # 0.6 s go by in steps the watchdog sees
        clock.advance(0.02)
        clock.read.clear()
        await clock.read.wait()
    await _settle()
    assert len(datagrams) > 1  # silence went on after the tone (and its resampler tail)
    assert not any(speech for _, speech, _ in datagrams[2:])
    mixer.push("tcp", _tone(16000, 1, 600))  # the late audio, at once
    await _settle()
    assert [frame.timestamp for frame, _, _ in stream] == pytest.approx(
        [0.02 * i for i in range(31)]
    )
    assert all(speech for _, speech, _ in stream)
    for session in ("rtp", "tcp"):
        mixer.remove_session(session)
    await mixer.close()


async def test_a_client_may_run_ahead_of_real_time_by_the_burst_allowance_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    mixer = InboundMixer(EnergyVAD(), burst_ms=1000, clock=clock)
    got: Received = []
    mixer.add_session("a", 24000, 1, _collector(got), stall_ms=5000)
    for _ in range(250):  # five seconds at once, in 20 ms frames
        mixer.push("a", _tone(24000, 1, 20))
    await _settle()
    assert len(got) == 50  # one second ahead of real time, no more
    assert caplog.text.count("faster than real time") == 1
    clock.advance(0.1)  # still on the edge: not yet
    mixer.push("a", _tone(24000, 1, 20))
    await _settle()
    assert len(got) == 50
    clock.advance(0.3)  # 0.2 s inside the allowance: taken again, up to the allowance
    for _ in range(21):
        mixer.push("a", _tone(24000, 1, 20))
    await _settle()
    assert len(got) == 70
    assert caplog.text.count("faster than real time") == 2  # a new burst, told again
    await mixer.close()


async def test_wrong_formats_are_refused() -> None:
    mixer = InboundMixer(EnergyVAD())
    mixer.add_session("a", 24000, 1, _collector([]))
    with pytest.raises(ValueError, match="sends 24000 Hz x 1"):
        mixer.push("a", _tone(48000, 2, 20))
    with pytest.raises(ValueError, match="do not align"):
        mixer.add_session("c", 11025, 1, _collector([]))
    await mixer.close()

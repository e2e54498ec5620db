"""The call recorder on its own, on a clock the test moves: where each side's audio lands."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.recordings import WAV_HEADER_BYTES, until_described
from voicegate.audio.frame import AudioFrame
from voicegate.server.recordings import RecordingLibrary
from voicegate.testing import FakeClock, MemoryTransport
from voicegate.voice.recording import (
    CALLER_LEAD_S,
    CallRecorder,
    RecordingInfo,
    RecordingOptions,
)
from voicegate.voice.session import VoiceSession

RATE = 16000


def _tone(seconds: float, rate: int = RATE, level: int = 8000) -> AudioFrame:
    n = round(seconds * rate)
    return AudioFrame((level * np.sin(np.arange(n) * 0.3)).astype(np.int16), rate)


def _session() -> VoiceSession:
    return VoiceSession("room", "alice", MemoryTransport())


def _caller(recorder: CallRecorder, clock: FakeClock, audio: AudioFrame) -> None:
    """``audio`` as the inbound path hands it over: 20 ms frames, in real time."""
    for start in range(0, audio.num_samples, 320):
        recorder.caller(AudioFrame(audio.samples[start : start + 320], RATE))
        clock.advance(0.02)


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate()) == (2, RATE)
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16).reshape(-1, 2)


def _loud(channel: np.ndarray) -> tuple[float, float]:
    """First and last loud sample, in seconds."""
    loud = np.flatnonzero(np.abs(channel.astype(np.int32)) > 1000)
    return loud[0] / RATE, (loud[-1] + 1) / RATE


async def _until_written(path: Path, samples: int) -> None:
    """Wait until the writer thread has put ``samples`` per channel into the WAV file."""
    async with asyncio.timeout(10):
        while await asyncio.to_thread(_size, path) < WAV_HEADER_BYTES + samples * 4:  # noqa: ASYNC110 - a file, nothing signals it
            await asyncio.sleep(0.01)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


async def test_each_side_lands_where_it_was_heard_and_a_cut_drops_the_unheard_rest(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    recorder = CallRecorder(RecordingOptions(tmp_path), _session(), "owner", clock)
    _caller(recorder, clock, _tone(1.0))  # the caller speaks for 1 s
    _caller(recorder, clock, _tone(0.5, level=0))
    recorder.answer(_tone(3.0, rate=24000))  # at 1.5 s: 3 s of answer queued at once
    _caller(recorder, clock, _tone(1.0, level=0))  # 1 s of it is heard
    recorder.cut()  # barge-in at 2.5 s: the other 2 s never played
    _caller(recorder, clock, _tone(0.5, level=0))
    info = await recorder.finish()

    stereo = _read(tmp_path / info.file)
    assert len(stereo) == 3 * RATE  # the call's length
    assert _loud(stereo[:, 0]) == pytest.approx((0.0, 1.0), abs=0.001)
    start, end = _loud(stereo[:, 1])
    assert abs(start - 1.5) <= 0.01
    assert abs(end - 2.5) <= 0.01
    assert info.duration_seconds == 3.0
    assert RecordingInfo.load(tmp_path / f"{info.id}.json") == info
    assert info.complete


async def test_a_call_that_ends_while_the_caller_is_behind_is_as_long_as_it_lasted(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    recorder = CallRecorder(RecordingOptions(tmp_path), _session(), None, clock)
    _caller(recorder, clock, _tone(0.4))
    clock.advance(0.2)  # the client stalled; the inbound path had not fed silence yet
    info = await recorder.finish()
    assert len(_read(tmp_path / info.file)) == round(0.6 * RATE)
    recorder.caller(_tone(0.1))  # a frame after the end is not recorded
    assert len(_read(tmp_path / info.file)) == round(0.6 * RATE)


async def test_late_caller_audio_after_fed_silence_is_kept_and_the_channel_returns_to_the_clock(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    recorder = CallRecorder(RecordingOptions(tmp_path), _session(), None, clock)
    _caller(recorder, clock, _tone(0.4))
    _caller(recorder, clock, _tone(0.3, level=0))  # the inbound path fed silence: audio late
    late = _tone(0.3)
    for start in range(0, late.num_samples, 320):  # then the late audio came, all at once
        recorder.caller(AudioFrame(late.samples[start : start + 320], RATE))
    _caller(recorder, clock, _tone(1.0, level=0))  # the caller's silence, in real time
    info = await recorder.finish()

    left = _read(tmp_path / info.file)[:, 0]
    assert abs(len(left) / RATE - 1.7) <= CALLER_LEAD_S  # the call's: 0.4 + 0.3 + 1.0 s
    assert _loud(left) == pytest.approx((0.0, 1.0), abs=0.001)  # the late audio kept whole,
    assert _loud(left[: round(0.4 * RATE)])[1] == pytest.approx(0.4, abs=0.001)
    assert not np.any(left[round(0.4 * RATE) : round(0.7 * RATE)])  # after the fed silence
    assert _loud(left[round(0.7 * RATE) :])[0] == pytest.approx(0.0, abs=0.001)


async def test_an_answer_to_late_caller_audio_lands_whole_after_it(tmp_path: Path) -> None:
    clock = FakeClock()
    recorder = CallRecorder(RecordingOptions(tmp_path), _session(), None, clock)
    _caller(recorder, clock, _tone(0.4))
    _caller(recorder, clock, _tone(0.3, level=0))  # the inbound path fed silence: audio late
    late = _tone(0.3)
    for start in range(0, late.num_samples, 320):  # the late audio: 0.3 s ahead of the clock
        recorder.caller(AudioFrame(late.samples[start : start + 320], RATE))
    await _until_written(tmp_path / recorder.info.file, RATE)  # the caller's channel, so far
    recorder.answer(_tone(1.0))  # answered at once, on the clock at 0.7 s
    _caller(recorder, clock, _tone(1.5, level=0))
    info = await recorder.finish()

    stereo = _read(tmp_path / info.file)
    start, end = _loud(stereo[:, 1])
    assert start == pytest.approx(1.0, abs=0.001)  # after the caller's words, not beside them
    assert end - start == pytest.approx(1.0, abs=0.001)  # none of it lost


async def test_retention_deletes_old_recordings_only(tmp_path: Path) -> None:
    clock = FakeClock()
    infos = []
    for _ in range(2):
        recorder = CallRecorder(RecordingOptions(tmp_path, "ogg"), _session(), None, clock)
        _caller(recorder, clock, _tone(0.2))
        infos.append(await recorder.finish())
    old, new = infos
    long_call = CallRecorder(RecordingOptions(tmp_path), _session(), None, clock)
    _caller(long_call, clock, _tone(0.2))
    await until_described(tmp_path, long_call.info.id)
    for aged in (old.id, long_call.info.id):
        week_ago = os.stat(tmp_path / f"{aged}.json").st_mtime - 7 * 86400
        os.utime(tmp_path / f"{aged}.json", (week_ago, week_ago))
    library = RecordingLibrary(tmp_path)
    assert library.delete_older_than(3) == [old.id]  # not the call still recorded
    live = await long_call.finish()
    assert sorted(info.id for info in library.all()) == sorted([new.id, live.id])
    left = await asyncio.to_thread(os.listdir, tmp_path)
    assert sorted(left) == sorted([new.file, f"{new.id}.json", live.file, f"{live.id}.json"])
    assert library.get("../etc/passwd") is None

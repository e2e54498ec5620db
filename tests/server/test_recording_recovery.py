"""Recordings cut off by a crash get their room event at the next start; calls still being
recorded are left alone. (A real SIGKILLed server: ``test_recordings.py``.)"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from tests.recordings import until_described
from voicegate import InMemoryStore
from voicegate.audio.frame import AudioFrame
from voicegate.audio.recording_file import open_recording
from voicegate.core.models import AudioContent, EventStatus, Room
from voicegate.server.recording_recovery import recover_recordings
from voicegate.server.recordings import RecordingLibrary
from voicegate.testing import FakeClock, MemoryTransport
from voicegate.voice.recording import CallRecorder, RecordingInfo, RecordingOptions
from voicegate.voice.session import VoiceSession

RATE = 16000


def _cut_off_wav(folder: Path, room_id: str, seconds: float) -> RecordingInfo:
    """What a killed server leaves of a WAV recording: its description (no event, not
    complete), a header true to the last flush, and a frame and a half written after it."""
    recording_id = "a" * 32
    info = RecordingInfo(
        recording_id,
        room_id,
        "s1",
        "voice:s1",
        "alice",
        None,
        f"{recording_id}.wav",
        "audio/wav",
        "2026-01-01T00:00:00+00:00",
        transcript="caller: hello there",
    )
    info.save(folder)
    file = open_recording(folder / info.file, RATE)
    file.write(np.full((round(seconds * RATE), 2), 1000, np.int16))
    file.flush()  # the last flush: the header says this much
    with (folder / info.file).open("ab") as tail:  # what followed it
        tail.write(np.ones((1, 2), "<i2").tobytes() + b"\x01\x00")  # a frame and a half
    return info


async def test_a_cut_off_recording_gets_an_incomplete_event_with_its_real_length(
    tmp_path: Path,
) -> None:
    store = InMemoryStore()
    room = await store.create_room(Room("room"))
    cut_off = _cut_off_wav(tmp_path, room.id, 1.5)
    clock = FakeClock()
    session = VoiceSession(room.id, "bob", MemoryTransport())
    live = CallRecorder(RecordingOptions(tmp_path), session, None, clock)
    live.caller(AudioFrame(np.zeros(320, np.int16), RATE))
    await until_described(tmp_path, live.info.id)
    library = RecordingLibrary(tmp_path)

    assert await recover_recordings(library, store) == [cut_off.id]  # the live call is left alone

    [event] = await store.list_events(room.id)
    content = event.content
    assert isinstance(content, AudioContent)
    assert content.url == f"/recordings/{cut_off.id}"
    assert content.duration_seconds == pytest.approx(1.5 + 1 / RATE, abs=0.001)
    assert content.transcript == "caller: hello there"
    assert event.metadata["recording"] == {"id": cut_off.id, "session_id": "s1", "complete": False}
    assert (event.source.channel_id, event.source.participant_id) == ("voice:s1", "alice")
    assert event.status is EventStatus.DELIVERED
    with wave.open(str(tmp_path / cut_off.file)) as wav:  # the header repaired
        assert wav.getnframes() == round(1.5 * RATE) + 1
    stored = library.get(cut_off.id)
    assert stored is not None
    assert (stored.event_id, stored.complete) == (event.id, False)
    assert await recover_recordings(library, store) == []  # posted once only

    finished = await live.finish()
    assert await recover_recordings(library, store) == [finished.id]  # its posting was lost
    recovered = (await store.list_events(room.id))[-1]
    assert recovered.metadata["recording"]["complete"] is True

"""Call recording through `voicegate serve`: the file, its room event, who may fetch it, and a
server killed mid-call."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.recordings import (
    channels,
    check_recording,
    heard,
    recording_of,
    speech_end_s,
    until_finished,
)
from tests.servers import serving
from tests.voice.conftest import (
    Received,
    pcm_frames,
    receive_into,
    silence,
    speech,
    stream_realtime,
)
from voicegate.store.sqlite import SQLiteStore
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

SENTENCE = "The quick brown fox jumps over the lazy dog."
LEAD_MS = 500
"""How far ahead of real time the caller's audio is sent (see :func:`stream_realtime`)."""


def _fetch(url: str, token: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def test_a_recorded_call_is_a_stereo_file_a_room_event_and_served_to_its_room_only(
    tmp_path: Path, tts: PiperTTS, stt_base: FasterWhisperSTT
) -> None:
    data = tmp_path / "data"
    spoken = await speech(tts, SENTENCE)
    frames = pcm_frames(spoken) + pcm_frames(silence(16000, 1.0))
    async with serving("--data-dir", str(data), "--record-calls") as server:
        token = server.url.split("token=")[1]
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with connect(f"{server.ws_url}?token={token}") as ws:
            await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "record": True}))
            ready = json.loads(await ws.recv())
            assert ready["recording"] is True
            received = Received()
            # ahead of real time, so that this process held up by a loaded machine does not
            # make the server feed silence into the sentence (a muted microphone's gap)
            sender = asyncio.create_task(stream_realtime(ws, frames, lead_ms=LEAD_MS))
            await asyncio.wait_for(receive_into(ws, received, "tts_end"), 60)
            await sender
            await ws.send(json.dumps({"type": "bye"}))
            await ws.wait_closed()
        await until_finished(data / "recordings")
        stay_s = loop.time() - began
        other = await _other_token(data)
        assert await server.stop() == 0

    store = SQLiteStore(data / "voicegate.sqlite3")
    await store.open()
    events = await store.list_events(ready["room_id"], limit=100)
    await store.close()
    recorded, content = recording_of(events)
    assert recorded.metadata["recording"]["complete"] is True
    assert content.transcript is not None
    caller_line, answer_line = content.transcript.splitlines()
    assert caller_line.startswith("caller: ")
    assert answer_line.startswith("answer: ")
    assert word_error_rate([(SENTENCE, caller_line.removeprefix("caller: "))]) <= 0.2
    recordings = data / "recordings"
    await check_recording(
        stt_base,
        recordings,
        content,
        caller_said=SENTENCE,
        answered=SENTENCE,
        call_at_least_s=speech_end_s(spoken),
        call_at_most_s=stay_s,
    )
    recording_id = content.url.removeprefix("/recordings/")
    path = recordings / f"{recording_id}.wav"

    listed = await _cli("recordings", "--data-dir", str(data))
    [line] = listed.splitlines()
    assert line.startswith(recording_id)
    assert line.endswith("  complete")
    exported = tmp_path / "exported.wav"
    await _cli(
        "recordings", "--data-dir", str(data), "--export", recording_id, "--to", str(exported)
    )
    assert exported.read_bytes() == path.read_bytes()

    async with serving("--data-dir", str(data)) as restarted:  # the event and file survive
        url = f"http://127.0.0.1:{restarted.port}{content.url}"
        status, body = await asyncio.to_thread(_fetch, url, token)
        assert (status, body) == (200, path.read_bytes())
        assert (await asyncio.to_thread(_fetch, url, None))[0] == 401
        assert (await asyncio.to_thread(_fetch, url, "forged"))[0] == 401
        assert (await asyncio.to_thread(_fetch, url, other))[0] == 404  # another room's token
        traversal = f"http://127.0.0.1:{restarted.port}/recordings/..%2Fvoicegate.sqlite3"
        assert (await asyncio.to_thread(_fetch, traversal, token))[0] == 404


async def _other_token(data: Path) -> str:
    """A valid token of another owner, granting no room."""
    return (await _cli("token", "mallory", "--data-dir", str(data))).strip()


async def _cli(*args: str) -> str:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "voicegate", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("fmt", ["wav", "ogg"])
async def test_a_killed_server_leaves_a_playable_recording_posted_at_the_next_start(
    tmp_path: Path, tts: PiperTTS, stt_base: FasterWhisperSTT, fmt: str
) -> None:
    data = tmp_path / "data"
    recordings = data / "recordings"
    audio = await speech(tts, SENTENCE)
    frames = pcm_frames(audio) + pcm_frames(silence(16000, 2.0))
    async with serving("--data-dir", str(data), "--record-calls", "--recording-format", fmt) as s:
        token = s.url.split("token=")[1]
        async with connect(f"{s.ws_url}?token={token}") as ws:
            await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "record": True}))
            ready = json.loads(await ws.recv())
            assert ready["recording"] is True
            sender = asyncio.create_task(stream_realtime(ws, frames, lead_ms=LEAD_MS))
            await asyncio.wait_for(receive_into(ws, Received(), "final_transcript"), 60)
            await sender  # the sentence and 2 s of silence, in real time
            await _until_transcript_saved(recordings)
            s.process.send_signal(signal.SIGKILL)
            await s.process.wait()
    [path] = recordings.glob(f"*.{fmt}")
    left, _, rate = channels(path)
    assert len(left) / rate >= audio.duration  # everything up to the crash, give or take a page
    assert word_error_rate([(SENTENCE, await heard(stt_base, left, rate))]) <= 0.2
    [description] = recordings.glob("*.json")
    assert json.loads(description.read_text())["complete"] is False

    async with serving("--data-dir", str(data)) as restarted:  # posts it as it starts
        assert await restarted.stop() == 0
    store = SQLiteStore(data / "voicegate.sqlite3")
    await store.open()
    events = await store.list_events(ready["room_id"], limit=100)
    await store.close()
    recorded, content = recording_of(events)
    assert recorded.metadata["recording"]["complete"] is False
    assert recorded.source.channel_id == f"voice:{ready['session_id']}"
    left, _, rate = channels(path)  # the file as the recovery left it (a WAV's header repaired)
    assert content.duration_seconds == pytest.approx(len(left) / rate, abs=0.001)
    assert content.duration_seconds >= audio.duration
    assert content.transcript is not None
    caller_line = content.transcript.splitlines()[0]
    assert word_error_rate([(SENTENCE, caller_line.removeprefix("caller: "))]) <= 0.2
    assert json.loads(description.read_text())["event_id"] == recorded.id


async def _until_transcript_saved(recordings: Path) -> None:
    """Wait until the recording's description holds the caller's line (the writer thread
    saves it soon after the transcript)."""
    async with asyncio.timeout(10):
        while not await asyncio.to_thread(_transcript_saved, recordings):  # noqa: ASYNC110 - a file, nothing signals it
            await asyncio.sleep(0.05)


def _transcript_saved(recordings: Path) -> bool:
    return any(
        "caller: " in json.loads(description.read_text())["transcript"]
        for description in recordings.glob("*.json")
    )

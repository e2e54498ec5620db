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
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from websockets.asyncio.client import connect

from tests.servers import serving
from tests.voice.conftest import (
    Received,
    pcm_frames,
    receive_into,
    silence,
    speech,
    stream_realtime,
)
from voicegate.audio.frame import AudioFrame
from voicegate.core.models import AudioContent
from voicegate.store.sqlite import SQLiteStore
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

SENTENCE = "The quick brown fox jumps over the lazy dog."
LOUD = 500  # int16: speech, not the resampler's ripple or digital silence


def _fetch(url: str, token: str | None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _channels(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """The left and right channels of a recording (any format PyAV reads) and its rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [
            frame.to_ndarray().reshape(-1, 2) if frame.format.is_packed else frame.to_ndarray().T
            for frame in container.decode(stream)
        ]
        rate = stream.rate
    samples = np.concatenate(chunks)
    if samples.dtype != np.int16:  # Opus decodes to float
        samples = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
    return samples[:, 0].copy(), samples[:, 1].copy(), rate


async def _heard(stt: FasterWhisperSTT, samples: np.ndarray, rate: int) -> str:
    return (await stt.transcribe(AudioFrame(samples, rate))).text


async def test_a_recorded_call_is_a_stereo_file_a_room_event_and_served_to_its_room_only(
    tmp_path: Path, tts: PiperTTS, stt: FasterWhisperSTT
) -> None:
    data = tmp_path / "data"
    frames = pcm_frames(await speech(tts, SENTENCE)) + pcm_frames(silence(16000, 1.0))
    async with serving("--data-dir", str(data), "--record-calls") as server:
        token = server.url.split("token=")[1]
        loop = asyncio.get_running_loop()
        async with connect(f"{server.ws_url}?token={token}") as ws:
            await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "record": True}))
            ready = json.loads(await ws.recv())
            began = loop.time()
            assert ready["recording"] is True
            received = Received()
            sender = asyncio.create_task(stream_realtime(ws, frames))
            await asyncio.wait_for(receive_into(ws, received, "tts_end"), 60)
            await sender
            await ws.send(json.dumps({"type": "bye"}))
            call_seconds = loop.time() - began
            await ws.wait_closed()
        other = await _other_token(data)
        assert await server.stop() == 0

    store = SQLiteStore(data / "voicegate.sqlite3")
    await store.open()
    events = await store.list_events(ready["room_id"], limit=100)
    await store.close()
    [recorded] = [e for e in events if isinstance(e.content, AudioContent)]
    content = recorded.content
    assert isinstance(content, AudioContent)
    recording_id = content.url.removeprefix("/recordings/")
    assert content.url == f"/recordings/{recording_id}"
    assert content.mime_type == "audio/wav"
    assert content.transcript is not None
    caller_line, answer_line = content.transcript.splitlines()
    assert caller_line.startswith("caller: ")
    assert answer_line.startswith("answer: ")
    assert word_error_rate([(SENTENCE, caller_line.removeprefix("caller: "))]) <= 0.2

    path = data / "recordings" / f"{recording_id}.wav"
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 16000, 2)
        length = wav.getnframes() / 16000
    assert abs(length - call_seconds) <= 0.1
    assert content.duration_seconds == pytest.approx(length, abs=0.001)
    left, right, rate = _channels(path)
    assert word_error_rate([(SENTENCE, await _heard(stt, left, rate))]) <= 0.2
    assert word_error_rate([(SENTENCE, await _heard(stt, right, rate))]) <= 0.2
    caller_loud = np.flatnonzero(np.abs(left.astype(np.int32)) > LOUD)
    answer_loud = np.flatnonzero(np.abs(right.astype(np.int32)) > LOUD)
    assert caller_loud[-1] < answer_loud[0]  # time-aligned: the answer follows the question

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
async def test_a_killed_server_leaves_a_playable_recording(
    tmp_path: Path, tts: PiperTTS, stt: FasterWhisperSTT, fmt: str
) -> None:
    data = tmp_path / "data"
    audio = await speech(tts, SENTENCE)
    frames = pcm_frames(audio) + pcm_frames(silence(16000, 2.0))
    async with serving("--data-dir", str(data), "--record-calls", "--recording-format", fmt) as s:
        token = s.url.split("token=")[1]
        async with connect(f"{s.ws_url}?token={token}") as ws:
            await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "record": True}))
            assert json.loads(await ws.recv())["recording"] is True
            await stream_realtime(ws, frames)  # the sentence and 2 s of silence, in real time
            s.process.send_signal(signal.SIGKILL)
            await s.process.wait()
    [path] = (data / "recordings").glob(f"*.{fmt}")
    left, _, rate = _channels(path)
    assert len(left) / rate >= audio.duration  # everything up to the crash, give or take a page
    assert word_error_rate([(SENTENCE, await _heard(stt, left, rate))]) <= 0.2
    [description] = (data / "recordings").glob("*.json")
    assert json.loads(description.read_text())["complete"] is False

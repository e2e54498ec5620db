"""`voicegate serve` as users run it: a subprocess, its printed URL, health, metrics, restarts."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from tests.servers import running_server
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
        sender = asyncio.create_task(stream_realtime(ws, frames))
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
        assert word_error_rate([(SENTENCE, first.of_type("final_transcript")[0]["text"])]) <= 0.1
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
        token = url.split("token=")[1]
        async with connect(f"ws://127.0.0.1:{port}/ws?token={token}") as closed_room:
            hello = {"type": "hello", "sample_rate": 16000, "room_id": room_id}
            await closed_room.send(json.dumps(hello))
            # the server made that room for its caller, and closed it when the caller left
            assert await close_code(closed_room) == (4404, "room_not_found")
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


async def test_sigint_tells_open_sessions_1001_and_exits_0(tmp_path: Path) -> None:
    server = GatewayProcess(tmp_path / "serve.log")
    address = await server.__aenter__()
    try:
        async with connect(address.websocket_url) as in_session:
            await in_session.send(json.dumps({"type": "hello", "sample_rate": 16000}))
            assert json.loads(await in_session.recv())["type"] == "ready"
            closed = asyncio.create_task(close_code(in_session))
            exit_code = await server.stop()
            assert await closed == (1001, "server shutting down")
    finally:
        await server.stop()
    assert exit_code == 0


def _serve_fails(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "voicegate", "serve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("voicegate")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_clear_one_line_errors_for_port_model_and_config(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = _serve_fails("--port", str(port), "--store", "memory")
        assert f"port {port} on 127.0.0.1 is already in use" in line
    assert "unknown stt model" in _serve_fails("--stt-model", str(tmp_path / "nope"))
    assert "bad value 'many' for --max-sessions" in _serve_fails("--max-sessions", "many")
    assert "loopback only" in _serve_fails("--anonymous", "--host", "0.0.0.0")

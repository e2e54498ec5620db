"""SIGTERM drains `voicegate serve`: no new calls, open calls go on until they end or the
drain deadline passes, then they are closed with 1001."""

from __future__ import annotations

import asyncio
import json
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.servers import ServeProcess, start_serve
from tests.voice.conftest import close_code, speech, spoken_turn, voice_client
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def _serve(tmp_path: Path, drain_timeout: str) -> ServeProcess:
    data = str(tmp_path / f"data-{drain_timeout}")
    return await start_serve("--data-dir", data, "--anonymous", "--drain-timeout", drain_timeout)


async def test_sigterm_refuses_new_calls_and_lets_open_ones_finish(
    tmp_path: Path, tts: PiperTTS
) -> None:
    turn = spoken_turn(await speech(tts, "Please turn on the kitchen lights."))
    server = await _serve(tmp_path, "600")
    try:
        async with voice_client(server.ws_url) as caller:
            server.process.send_signal(signal.SIGTERM)
            status, report = await asyncio.to_thread(_health, server.port)
            assert (status, report["status"]) == (503, "draining")
            async with connect(server.ws_url) as late:
                await late.send(json.dumps({"type": "hello", "sample_rate": 16000}))
                assert await close_code(late) == (1013, "server_busy")
            await caller.say(turn)  # the open call goes on
            await caller.wait_for("tts_end")
        # the last call ended: the process stops long before its drain deadline
        assert await server.stop(signal.SIGTERM) == 0, server.read_log()
    finally:
        if server.process.returncode is None:
            server.process.kill()
            await server.process.wait()
        server.log.close()


async def test_calls_still_open_at_the_drain_deadline_are_closed_with_1001(
    tmp_path: Path,
) -> None:
    server = await _serve(tmp_path, "1")
    try:
        async with voice_client(server.ws_url) as caller:
            server.process.send_signal(signal.SIGTERM)
            await caller.wait_until(lambda _: caller.connection.close_code is not None, 60)
            assert caller.connection.close_code == 1001
        assert await asyncio.wait_for(server.process.wait(), 60) == 0, server.read_log()
    finally:
        if server.process.returncode is None:
            server.process.kill()
            await server.process.wait()
        server.log.close()

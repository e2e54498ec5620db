"""SIGTERM drains `voicegate serve`: no new calls, open calls go on until they end or the
drain deadline passes, then they are closed with 1001."""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.servers import ServeProcess, health, serving
from tests.voice.conftest import close_code, speech, spoken_turn, voice_client
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models


async def _draining(port: int) -> bool:
    """Whether /healthz says draining (503) within a deadline (the signal lands soon after)."""
    for _ in range(300):
        status, report = await asyncio.to_thread(health, port)
        if (status, report["status"]) == (503, "draining"):
            return True
        await asyncio.sleep(0.1)
    return False


def _serving(tmp_path: Path, drain_timeout: str) -> AbstractAsyncContextManager[ServeProcess]:
    data = str(tmp_path / f"data-{drain_timeout}")
    return serving("--data-dir", data, "--anonymous", "--drain-timeout", drain_timeout)


async def test_sigterm_refuses_new_calls_and_lets_open_ones_finish(
    tmp_path: Path, tts: PiperTTS
) -> None:
    turn = spoken_turn(await speech(tts, "Please turn on the kitchen lights."))
    async with _serving(tmp_path, "600") as server, voice_client(server.ws_url) as caller:
        server.process.send_signal(signal.SIGTERM)
        assert await _draining(server.port)
        async with connect(server.ws_url) as late:
            await late.send(json.dumps({"type": "hello", "sample_rate": 16000}))
            assert await close_code(late) == (1013, "server_busy")
        await caller.say(turn)  # the open call goes on
        await caller.wait_for("tts_end")
        await caller.connection.close()
        # the last call ended: the process stops long before its drain deadline
        assert await asyncio.wait_for(server.process.wait(), 60) == 0, server.read_log()


async def test_calls_still_open_at_the_drain_deadline_are_closed_with_1001(
    tmp_path: Path,
) -> None:
    async with _serving(tmp_path, "1") as server:
        async with voice_client(server.ws_url) as caller:
            server.process.send_signal(signal.SIGTERM)
            await caller.wait_until(lambda _: caller.connection.close_code is not None, 60)
            assert caller.connection.close_code == 1001
        assert await asyncio.wait_for(server.process.wait(), 60) == 0, server.read_log()

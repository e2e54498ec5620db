"""A caller whose machine is starved of CPU (its client answers no ping for a while) keeps its
session; one that stays silent past the server's keepalive timeout is dropped, and the server
logs why."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from voicegate import RoomKit
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import WS_PING_TIMEOUT_S, EmbeddedServer
from voicegate.testing import ScriptedSTT, ToneTTS
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.websocket import WebSocketVoiceBackend

PING_INTERVAL_S = 0.1
STALL_S = 1.0  # ten pings go unanswered while the client's process gets no CPU


@asynccontextmanager
async def serving(ping_timeout: float) -> AsyncIterator[str]:
    """A gateway whose server pings every ``PING_INTERVAL_S``; yields its WebSocket URL."""
    gateway = VoiceGateway(
        RoomKit(),
        stt=ScriptedSTT([]),
        tts=ToneTTS(),
        backends=[WebSocketVoiceBackend(allow_anonymous=True)],
    )
    async with gateway.kit:
        await gateway.start()
        app = create_voice_app(gateway)
        async with EmbeddedServer(
            app, "127.0.0.1", 0, ws_ping_interval=PING_INTERVAL_S, ws_ping_timeout=ping_timeout
        ) as server:
            yield f"ws://127.0.0.1:{server.port}/ws"
            await gateway.close()


def starved_caller(url: str, stall: Callable[[], None]) -> tuple[int | None, str]:
    """In a thread with its own event loop: join, let ``stall`` block the loop (no ping is
    answered meanwhile), then say ``bye``; returns the close code and reason it got."""

    async def call() -> tuple[int | None, str]:
        async with connect(url, ping_interval=None) as ws:
            await ws.send(json.dumps({"type": "hello", "sample_rate": 16000}))
            assert json.loads(await ws.recv())["type"] == "ready"
            stall()
            try:
                await ws.send(json.dumps({"type": "bye"}))
                async for _ in ws:
                    pass
            except ConnectionClosed:
                pass
            return ws.close_code, ws.close_reason or ""

    return asyncio.run(call())


async def test_a_caller_starved_within_the_keepalive_timeout_keeps_its_session() -> None:
    async with serving(ping_timeout=WS_PING_TIMEOUT_S) as url:
        code, reason = await asyncio.to_thread(starved_caller, url, lambda: time.sleep(STALL_S))
    assert (code, reason) == (1000, "bye")


async def test_a_caller_silent_past_the_keepalive_timeout_is_dropped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="voicegate.voice.websocket")
    async with serving(ping_timeout=0.3) as url:
        code, _ = await asyncio.to_thread(starved_caller, url, lambda: time.sleep(STALL_S))
    assert code != 1000
    closes = [r for r in caplog.records if "keepalive" in r.getMessage()]
    assert closes
    assert all(r.levelno == logging.INFO for r in closes)

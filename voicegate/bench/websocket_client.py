"""A WebSocket voice client for the benchmark: a live microphone and a recorder.

It says ``hello`` at 16 kHz and runs a live microphone: 20 ms PCM16 frames in real time,
the speech it is given to play and silence around it. It records every protocol message and
every binary audio frame it receives with its arrival time (``time.monotonic()`` seconds).
See ``docs/protocol.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voicegate.audio.frame import FRAME_MS
from voicegate.bench.connection import Connection
from voicegate.bench.phone_line import PacedLine
from voicegate.bench.speech import SAMPLE_RATE

PING_TIMEOUT_S: float | None = None
"""The benchmark clients' keepalive: they ping but never give up on a server that answers
late. On a machine starved of CPU, websockets' default (no pong within 20 s: close with
1011) ended live sessions; the server ends sessions that are really gone."""


@dataclass
class Recording:
    """What a client received, in arrival order, with monotonic arrival times."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    audio: list[tuple[float, bytes]] = field(default_factory=list)


class WebSocketVoiceClient(Connection):
    """One caller on ``url`` (``ws://host:port/ws?token=...``); use as ``async with``."""

    def __init__(self, url: str, *, room_id: str | None = None, open_timeout: float = 10.0):
        self.url = url
        self.room_id = room_id
        self.open_timeout = open_timeout
        self.recording = Recording()
        self.ready: dict[str, Any] = {}
        self._connection: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._microphone: asyncio.Task[None] | None = None
        self._line = PacedLine(bytes(SAMPLE_RATE * FRAME_MS // 1000 * 2))

    async def open(self) -> None:
        """Connect, say ``hello``, await ``ready``; start the microphone and the recorder."""
        self._connection = await connect(
            self.url, open_timeout=self.open_timeout, ping_timeout=PING_TIMEOUT_S
        )
        hello = {"type": "hello", "sample_rate": SAMPLE_RATE, "room_id": self.room_id}
        await self._connection.send(json.dumps(hello))
        async with asyncio.timeout(self.open_timeout):
            reply = json.loads(await self._connection.recv())
            if reply.get("type") == "error" and reply.get("fatal"):
                await self._connection.recv()  # raises ConnectionClosed: the refusal's close
        if reply.get("type") != "ready":
            await self._connection.close()
            raise ConnectionError(f"{self.url}: expected 'ready' after hello, got {reply}")
        self.ready = reply
        self._reader = asyncio.create_task(self._read(self._connection))
        self._microphone = asyncio.create_task(self._send_microphone(self._connection))

    async def close(self) -> None:
        """Stop the microphone, say ``bye`` and close."""
        if self._connection is None:
            return
        if self._microphone is not None:
            self._microphone.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._microphone
        with contextlib.suppress(ConnectionClosed):
            await self._connection.send(json.dumps({"type": "bye"}))
        await self._connection.close()
        if self._reader is not None:
            await self._reader

    async def play(self, frames: Sequence[bytes]) -> float:
        """Queue 20 ms ``frames`` on the microphone; return when the last one was sent.

        The microphone sends them in real time, and silence before and after. Returns
        the monotonic time the last frame was sent; raises ``ConnectionError`` if the
        server closed the session.
        """
        if self._microphone is None:
            raise RuntimeError("use WebSocketVoiceClient as 'async with' before playing audio")
        sent = self._line.queue(frames)
        waits: set[asyncio.Future[Any]] = {sent, self._microphone}
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if sent not in done:
            raise ConnectionError(f"{self.url}: the server closed the session")
        return float(sent.result())

    async def _send_microphone(self, connection: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            await self._line.run(connection.send)

    async def _read(self, connection: ClientConnection) -> None:
        try:
            async for message in connection:
                at = time.monotonic()
                if isinstance(message, bytes):
                    self.recording.audio.append((at, message))
                else:
                    self.recording.messages.append((at, json.loads(message)))
        except ConnectionClosed:
            pass

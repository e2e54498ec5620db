"""The WebSocket transport reads what a client sent without waiting for the event loop's
other work between messages: on a busy server, audio that waits unread looks like a client
that stopped sending (and gets silence in its place)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.voice.endpoint import SocketClosedError
from voicegate.voice.hello import Hello
from voicegate.voice.protocol import VoiceProtocol
from voicegate.voice.websocket import WebSocketTransport

FRAMES = 50


class QueuedSocket:
    """A client whose messages are already queued (uvicorn's receive queue), then closed."""

    def __init__(self, messages: list[str | bytes]) -> None:
        self._messages = list(messages)
        self.sent: list[str | bytes] = []
        self._closed = asyncio.Event()

    async def accept(self, subprotocol: str | None = None) -> None:
        """Already accepted."""

    async def receive(self) -> str | bytes:
        if self._messages:
            return self._messages.pop(0)
        await self._closed.wait()
        raise SocketClosedError("closed")

    async def send(self, message: str | bytes) -> None:
        self.sent.append(message)

    async def close(self, code: int, reason: str = "") -> None:
        self._closed.set()


def _transport(socket: QueuedSocket) -> WebSocketTransport:
    protocol = VoiceProtocol()
    [hello] = protocol.receive_text(json.dumps({"type": "hello", "sample_rate": 16000}))
    assert isinstance(hello, Hello)
    return WebSocketTransport(socket, protocol, hello, 16000, 0.1)


async def test_queued_audio_is_read_in_one_go() -> None:
    frame = np.zeros(320, np.int16).tobytes()
    socket = QueuedSocket([frame] * FRAMES)
    transport = _transport(socket)
    loop = asyncio.get_running_loop()
    iterations = 0
    counting = True

    def tick() -> None:  # counts the event loop's iterations
        nonlocal iterations
        iterations += 1
        if counting:
            loop.call_soon(tick)

    loop.call_soon(tick)
    read = 0
    frames = transport.frames()
    while read < FRAMES:
        await anext(frames)
        read += 1
    # The queued messages came without one loop iteration each: a reader that waited a
    # turn of the loop per message fell behind real time while other sessions kept the
    # loop busy.
    assert iterations < 5, f"{FRAMES} queued frames took {iterations} loop iterations"
    counting = False
    await transport.close()
    assert [frame async for frame in frames] == []  # closing ends them


async def test_a_closed_socket_ends_the_frames() -> None:
    frame = np.zeros(320, np.int16).tobytes()
    socket = QueuedSocket([frame, frame])
    transport = _transport(socket)
    frames = [f async for f in _until_closed(transport, socket)]
    assert len(frames) == 2


async def _until_closed(
    transport: WebSocketTransport, socket: QueuedSocket
) -> AsyncIterator[AudioFrame]:
    async def close_soon() -> None:
        await asyncio.sleep(0.05)
        await socket.close(1000)

    closing = asyncio.create_task(close_soon())
    async for frame in transport.frames():
        yield frame
    await closing


class BrokenSocket(QueuedSocket):
    """A socket whose reads fail with something other than a close."""

    async def receive(self) -> str | bytes:
        if self._messages:
            return self._messages.pop(0)
        raise RuntimeError("the ASGI server's socket is in a bad state")


async def test_a_failing_read_ends_the_audio_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = np.zeros(320, np.int16).tobytes()
    transport = _transport(BrokenSocket([frame, frame]))
    with caplog.at_level(logging.ERROR, logger="voicegate.voice.websocket"):
        async with asyncio.timeout(30.0):  # a hang fails here, not the whole suite
            frames = [frame async for frame in transport.frames()]
    assert len(frames) <= 2  # the audio read before the failure, at most
    assert "reading the WebSocket failed" in caplog.text

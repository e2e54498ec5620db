"""A real gateway on a real port with the real models, and a client that streams in real time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Unpack

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.gateways import GatewayOptions, served_gateway
from voicegate import RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.bench.speech import pcm_frames
from voicegate.server.embedded import EmbeddedServer
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.admission import OVERLOADED
from voicegate.voice.backend import VoiceBackend
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.protocol import CLOSE_MESSAGES
from voicegate.voice.session import VoiceSettings
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.webrtc import WebRTCVoiceBackend
from voicegate.voice.websocket import WebSocketVoiceBackend

SECRET = b"voice-tests-secret-0123456789"


@dataclass
class Gateway:
    """What a test needs of a running gateway."""

    kit: RoomKit
    server: EmbeddedServer
    gateway: VoiceGateway
    auth: TokenAuth

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"


@pytest.fixture
async def gateway(
    stt: FasterWhisperSTT, tts: PiperTTS, request: pytest.FixtureRequest
) -> AsyncIterator[Gateway]:
    settings: VoiceSettings = getattr(request, "param", VoiceSettings())
    async with running_gateway(stt, tts, settings=settings) as running:
        yield running


@asynccontextmanager
async def running_gateway(
    stt: FasterWhisperSTT,
    tts: PiperTTS,
    *,
    backend: WebSocketVoiceBackend | None = None,
    webrtc: bool = False,
    **options: Unpack[GatewayOptions],
) -> AsyncIterator[Gateway]:
    """A started gateway on a free port; ``backend`` defaults to one taking this module's
    tokens, which ``POST /token/renew`` renews; ``webrtc`` adds the offer endpoint."""
    auth = TokenAuth(SECRET, ttl=60)
    backends: list[VoiceBackend] = [backend if backend is not None else WebSocketVoiceBackend(auth)]
    if webrtc:
        backends.append(WebRTCVoiceBackend(auth))
    async with served_gateway(stt, tts, backends, tokens=auth, **options) as (kit, voice, server):
        yield Gateway(kit, server, voice, auth)


async def speech(tts: PiperTTS, text: str, rate: int = 16000) -> AudioFrame:
    """``text`` spoken by Piper, at ``rate``."""
    return resample(await tts.synthesize(text), rate)


def silence(rate: int, seconds: float) -> AudioFrame:
    """``seconds`` of digital silence."""
    return AudioFrame(np.zeros(round(rate * seconds), np.int16), rate)


@dataclass
class Received:
    """Everything a client got, in order, with arrival times (monotonic seconds)."""

    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    audio: list[tuple[float, bytes]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for _, m in self.messages if m["type"] == kind]

    def first_time(self, kind: str) -> float:
        return next(t for t, m in self.messages if m["type"] == kind)

    def audio_frame(self, rate: int) -> AudioFrame:
        pcm = b"".join(chunk for _, chunk in self.audio)
        return AudioFrame.from_bytes(pcm, rate)

    def record(self, message: str | bytes) -> None:
        """Keep ``message`` with its arrival time: audio if binary, else a JSON message."""
        now = asyncio.get_running_loop().time()
        if isinstance(message, bytes):
            self.audio.append((now, message))
        else:
            self.messages.append((now, json.loads(message)))


async def receive_into(connection: Any, received: Received, until: str, count: int = 1) -> None:
    """Collect messages until ``count`` messages of type ``until`` arrived."""
    while len(received.of_type(until)) < count:
        received.record(await connection.recv())


async def stream_realtime(
    connection: Any, frames: list[bytes], frame_ms: int = 20, lead_ms: int = 0
) -> None:
    """Send ``frames`` paced like a live microphone, ``lead_ms`` ahead of real time (within
    the server's burst allowance: a client held up for less than that never leaves the server
    without audio, which it would fill with silence)."""
    loop = asyncio.get_running_loop()
    start = loop.time() - lead_ms / 1000
    for index, frame in enumerate(frames):
        await connection.send(frame)
        delay = start + (index + 1) * frame_ms / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


def spoken_turn(audio: AudioFrame, trailing_s: float = 1.0) -> list[bytes]:
    """Frames of ``audio`` between a short lead-in and ``trailing_s`` of silence."""
    rate = audio.sample_rate
    return (
        pcm_frames(silence(rate, 0.2)) + pcm_frames(audio) + pcm_frames(silence(rate, trailing_s))
    )


@dataclass
class VoiceClient:
    """A connected client past its hello; a background task records all it receives."""

    connection: ClientConnection
    ready: dict[str, Any]
    received: Received = field(default_factory=Received)
    listener: asyncio.Task[None] | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def output_rate(self) -> int:
        rate: int = self.ready["output_sample_rate"]
        return rate

    async def listen(self) -> None:
        """Record messages until the connection closes."""
        try:
            async for message in self.connection:
                self.received.record(message)
                self.arrived.set()
        except ConnectionClosed:
            pass
        finally:
            self.arrived.set()

    async def wait_until(self, done: Callable[[Received], bool], seconds: float = 30.0) -> None:
        """Return once ``done(received)`` holds; fail if the connection closes first."""
        async with asyncio.timeout(seconds):
            while not done(self.received):
                if self.listener is not None and self.listener.done():
                    raise AssertionError("connection closed while waiting")
                self.arrived.clear()
                await self.arrived.wait()

    async def wait_for(self, kind: str, count: int = 1) -> dict[str, Any]:
        """The ``count``-th message of type ``kind``, once it has arrived."""
        await self.wait_until(lambda received: len(received.of_type(kind)) >= count)
        return self.received.of_type(kind)[count - 1]

    async def say(self, frames: list[bytes], lead_ms: int = 0) -> None:
        """Stream ``frames`` in real time, ``lead_ms`` ahead (see :func:`stream_realtime`)."""
        await stream_realtime(self.connection, frames, lead_ms=lead_ms)


OVERLOADED_RETRY_S = 120.0
"""How long a test caller tries again while the server answers 1013 ``overloaded``: the
recogniser the tests share may still be busy with an earlier test's turns."""


@asynccontextmanager
async def voice_client(
    url: str, hello: dict[str, Any] | None = None, **connect_options: Any
) -> AsyncIterator[VoiceClient]:
    """Connect to ``url``, send a 16 kHz ``hello`` (plus ``hello``'s fields) and await ``ready``;
    a session refused with ``overloaded`` (an ``error``, then 1013) tries again, as a client
    should."""
    give_up = time.monotonic() + OVERLOADED_RETRY_S
    while True:
        connection = await connect(url, **connect_options)
        await connection.send(json.dumps({"type": "hello", "sample_rate": 16000, **(hello or {})}))
        ready = json.loads(await connection.recv())
        refused = ready.get("type") == "error" and ready.get("code") == OVERLOADED
        if not refused or time.monotonic() > give_up:
            break
        await connection.close()  # the error precedes the close: try again later
        await asyncio.sleep(1.0)
    async with connection:
        assert ready["type"] == "ready", ready
        client = VoiceClient(connection, ready)
        client.listener = asyncio.create_task(client.listen())
        try:
            yield client
        finally:
            client.listener.cancel()
            await asyncio.gather(client.listener, return_exceptions=True)


async def close_code(connection: ClientConnection) -> tuple[int, str]:
    """The code and reason the server closed ``connection`` with (reading until it does)."""
    return (await last_words(connection))[1:]


async def last_words(connection: ClientConnection) -> tuple[dict[str, Any] | None, int, str]:
    """The last message before the server closed ``connection`` (``None``: none, or audio),
    and the close code and reason (reading until it closes)."""
    last: dict[str, Any] | None = None
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(10):
            while True:
                message = await connection.recv()
                last = json.loads(message) if isinstance(message, str) else None
    assert connection.close_code is not None
    return last, connection.close_code, connection.close_reason or ""


def fatal_error(code: str) -> dict[str, Any]:
    """The ``error`` message that precedes a close with reason ``code``."""
    return {"type": "error", "code": code, "message": CLOSE_MESSAGES[code], "fatal": True}

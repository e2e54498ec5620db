"""A real gateway on a real port with the real models, and a client that streams in real time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from voicegate import InMemoryStore, RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.server.http import FrontDoor
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.auth import TokenAuth
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.session import VoiceSettings
from voicegate.voice.websocket import WebSocketVoiceBackend

SECRET = b"voice-tests-secret-0123456789"


@dataclass
class Gateway:
    """What a test needs of a running gateway."""

    kit: RoomKit
    door: FrontDoor
    gateway: VoiceGateway
    auth: TokenAuth

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.door.port}/ws"


@pytest.fixture
async def gateway(
    stt: FasterWhisperSTT, tts: PiperTTS, request: pytest.FixtureRequest
) -> AsyncIterator[Gateway]:
    settings: VoiceSettings = getattr(request, "param", VoiceSettings())
    auth = TokenAuth(SECRET, ttl=60)
    kit = RoomKit(store=InMemoryStore())
    door = FrontDoor("127.0.0.1", 0)
    backend = WebSocketVoiceBackend(auth)
    backend.mount(door)
    voice = VoiceGateway(kit, stt=stt, tts=tts, backends=[backend], settings=settings)
    await voice.start()
    async with door:
        yield Gateway(kit, door, voice, auth)
        await voice.close()
    await kit.close()


async def speech(tts: PiperTTS, text: str, rate: int = 16000) -> AudioFrame:
    """``text`` spoken by Piper, at ``rate``."""
    return resample(await tts.synthesize(text), rate)


def pcm_frames(audio: AudioFrame, frame_ms: int = 20) -> list[bytes]:
    """``audio`` cut into frames of ``frame_ms`` (the last one zero-padded)."""
    size = audio.sample_rate * frame_ms // 1000
    samples = audio.samples.reshape(-1)
    padded = np.concatenate([samples, np.zeros(-len(samples) % size, np.int16)])
    return [padded[i : i + size].tobytes() for i in range(0, len(padded), size)]


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


async def receive_into(connection: Any, received: Received, until: str, count: int = 1) -> None:
    """Collect messages until ``count`` messages of type ``until`` arrived."""
    loop = asyncio.get_running_loop()
    while len(received.of_type(until)) < count:
        message = await connection.recv()
        if isinstance(message, bytes):
            received.audio.append((loop.time(), message))
        else:
            received.messages.append((loop.time(), json.loads(message)))


async def stream_realtime(connection: Any, frames: list[bytes], frame_ms: int = 20) -> None:
    """Send ``frames`` paced like a live microphone."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index, frame in enumerate(frames):
        await connection.send(frame)
        delay = start + (index + 1) * frame_ms / 1000 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

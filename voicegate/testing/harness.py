"""A real gateway on fakes, fed faster than real time: a voice session in a fast test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.audio.vad import VADProvider, WebRTCVAD
from voicegate.core.channels import Channel
from voicegate.core.kit import RoomKit
from voicegate.stt.base import STTProvider
from voicegate.testing.fakes import ToneTTS
from voicegate.testing.transport import MemoryTransport
from voicegate.tts.base import TTSProvider
from voicegate.voice.access import ROOMS_KEY
from voicegate.voice.backend import SessionRequest
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.inbound import InboundMixer
from voicegate.voice.session import VoiceSettings

SAMPLE_RATE = 16000


def speech(ms: int, rate: int = SAMPLE_RATE) -> AudioFrame:
    """``ms`` of a steady vowel (a 140 Hz voice with its harmonics) that VAD takes as speech."""
    t = np.arange(ms * rate // 1000) / rate
    harmonics = np.arange(1, 25)[:, None]
    wave = (np.sin(2 * np.pi * 140 * harmonics * t) / harmonics).sum(axis=0)
    return AudioFrame((wave * 2000).astype(np.int16), rate)


def silence(ms: int, rate: int = SAMPLE_RATE) -> AudioFrame:
    """``ms`` of digital silence."""
    return AudioFrame(np.zeros(ms * rate // 1000, np.int16), rate)


class FakeClock:
    """A clock that moves only when told: the inbound path's real-time checks see the
    audio's own time, so a test can send seconds of it at once."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


@dataclass
class Caller:
    """One session of the harness: its transport and what it was told."""

    transport: MemoryTransport
    clock: FakeClock

    @property
    def session_id(self) -> str:
        """The session's id (``ready``'s ``session_id``)."""
        assert self.transport.session_id is not None
        return self.transport.session_id

    @property
    def room_id(self) -> str:
        """The session's room."""
        assert self.transport.room_id is not None
        return self.transport.room_id

    async def send(self, audio: AudioFrame) -> None:
        """Send ``audio`` now as if it took its duration to arrive, and return once the
        session has run it through the inbound path (VAD, endpointer, listener)."""
        self.clock.advance(audio.duration)
        self.transport.push(audio)
        await self.transport.drained()
        await asyncio.sleep(0)  # the inbound pass runs at the end of the loop iteration

    async def say(self, speech_ms: int, silence_ms: int = 0) -> None:
        """``speech_ms`` of speech, then ``silence_ms`` of silence (enough silence,
        ``end_of_speech_ms``, ends the utterance)."""
        await self.send(speech(speech_ms, self.transport.input_rate))
        if silence_ms:
            await self.send(silence(silence_ms, self.transport.input_rate))


@dataclass
class VoiceHarness:
    """A started :class:`VoiceGateway` on a :class:`RoomKit`, fed through :class:`FakeClock`."""

    kit: RoomKit
    gateway: VoiceGateway
    clock: FakeClock

    @asynccontextmanager
    async def call(
        self,
        room_id: str | None = None,
        participant_id: str = "caller",
        *,
        hold_playout: bool = False,
    ) -> AsyncIterator[Caller]:
        """A session on a :class:`MemoryTransport` (16 kHz in and out) for the block; it
        joins ``room_id`` (a new room when None; the session is granted it) and leaves at
        the end."""
        transport = MemoryTransport(hold_playout=hold_playout)
        rooms = [] if room_id is None else [room_id]
        request = SessionRequest({ROOMS_KEY: rooms}, room_id, participant_id)
        slot = self.gateway.reserve()  # CapacityError when the gateway refuses the caller
        running = asyncio.create_task(self.gateway.run_session(transport, request, slot))
        await transport.wait_until(
            lambda: transport.session_id is not None or running.done(), "the session"
        )
        if transport.session_id is None:
            await running  # it failed: raises why, or it refused the caller
            raise ConnectionRefusedError(f"the session did not open: {transport.closed_with}")
        try:
            yield Caller(transport, self.clock)
        finally:
            transport.end()
            await running


@asynccontextmanager
async def voice_harness(
    stt: STTProvider,
    tts: TTSProvider | None = None,
    *,
    responder: Channel | None = None,
    settings: VoiceSettings | None = None,
    vad: VADProvider | None = None,
    kit: RoomKit | None = None,
) -> AsyncIterator[VoiceHarness]:
    """A gateway with ``stt``, ``tts`` (a :class:`ToneTTS` by default), ``responder`` (the
    echo by default) and ``vad`` (WebRTC VAD at the settings' aggressiveness) on ``kit``
    (a new in-memory one, closed at the end)."""
    settings = settings or VoiceSettings()
    clock = FakeClock()
    inbound = InboundMixer(vad or WebRTCVAD(settings.vad_aggressiveness), clock=clock)
    own_kit = kit is None
    room_kit = RoomKit() if kit is None else kit
    gateway = VoiceGateway(
        room_kit,
        stt=stt,
        tts=tts if tts is not None else ToneTTS(),
        responder=responder,
        settings=settings,
        inbound=inbound,
    )
    await gateway.start()
    try:
        yield VoiceHarness(room_kit, gateway, clock)
    finally:
        await gateway.close()
        if own_kit:
            await room_kit.close()

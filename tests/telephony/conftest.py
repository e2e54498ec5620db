"""A gateway with phone backends on real sockets, and real phone-line speech."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from voicegate import InMemoryStore, RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.bench.prompts import Prompt, load_prompts
from voicegate.core.channels import Channel
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import EmbeddedServer
from voicegate.server.metrics import GatewayMetrics
from voicegate.stt.base import STTProvider
from voicegate.telephony.sip.backend import SIPVoiceBackend
from voicegate.telephony.sip.call import CallState
from voicegate.tts.base import TTSProvider
from voicegate.voice.access import ANY_ROOM, ROOMS_KEY
from voicegate.voice.backend import VoiceBackend
from voicegate.voice.endpoint import HttpEndpoint, WebSocketEndpoint
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.session import VoiceSettings


@dataclass
class PhoneGateway:
    """A started gateway serving its backends on a free port."""

    kit: RoomKit
    gateway: VoiceGateway
    server: EmbeddedServer
    metrics: GatewayMetrics

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.server.port}{path}"


@asynccontextmanager
async def phone_gateway(
    stt: STTProvider,
    tts: TTSProvider,
    backends: Sequence[VoiceBackend],
    *,
    endpoints: Sequence[WebSocketEndpoint | HttpEndpoint] = (),
    responder: Channel | None = None,
    settings: VoiceSettings | None = None,
    max_sessions: int = 32,
) -> AsyncIterator[PhoneGateway]:
    """``backends`` on a started gateway (echo responder by default) and an HTTP server."""
    kit = RoomKit(store=InMemoryStore())
    metrics = GatewayMetrics()
    gateway = VoiceGateway(
        kit,
        stt=stt,
        tts=tts,
        backends=backends,
        responder=responder,
        settings=settings,
        observer=metrics,
        max_sessions=max_sessions,
    )
    await gateway.start()
    app = create_voice_app(gateway, metrics=metrics, page=False, endpoints=endpoints)
    try:
        async with EmbeddedServer(app, "127.0.0.1", 0) as server:
            yield PhoneGateway(kit, gateway, server, metrics)
            await gateway.close()
    finally:
        await kit.close()


@pytest.fixture(scope="session")
def prompts() -> dict[str, Prompt]:
    """Asterisk's phone prompts (real speech, 8 kHz) by name."""
    return {prompt.name: prompt for prompt in load_prompts()}


def phone_speech(prompt: Prompt) -> AudioFrame:
    """A prompt as a phone line carries it: 8 kHz."""
    return prompt.audio(8000)


def sip_backend(gateway: PhoneGateway) -> SIPVoiceBackend:
    """The gateway's SIP backend."""
    backend = next(b for b in gateway.gateway.backends if isinstance(b, SIPVoiceBackend))
    return backend


async def any_room(request: object) -> dict[str, Any]:
    """An ``AuthCallback`` that lets every caller into every room (``voicegate.voice.access``)."""
    return {"subject": "trunk", ROOMS_KEY: ANY_ROOM}


def call_confirmed(backend: SIPVoiceBackend) -> bool:
    """Whether a call on ``backend`` is answered and its ACK arrived (BYE from voicegate
    is what its caller expects next, rather than a refusal)."""
    return any(call.state is CallState.CONFIRMED for call in backend.calls)

"""A gateway with phone backends on real sockets, and real phone-line speech."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Unpack

import pytest

from tests.gateways import GatewayOptions, served_gateway
from voicegate import RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.bench.prompts import Prompt, load_prompts
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
    **options: Unpack[GatewayOptions],
) -> AsyncIterator[PhoneGateway]:
    """``backends`` on a started gateway (echo responder by default) and an HTTP server."""
    metrics = GatewayMetrics()
    served = served_gateway(
        stt, tts, backends, metrics=metrics, page=False, endpoints=endpoints, **options
    )
    async with served as (kit, gateway, server):
        yield PhoneGateway(kit, gateway, server, metrics)


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


async def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    """Poll until ``condition()`` holds (state that nothing signals, such as a call's)."""
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

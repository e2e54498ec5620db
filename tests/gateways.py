"""A started voice gateway served on a free port: what the voice and phone tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TypedDict, Unpack

from voicegate import InMemoryStore, RoomKit
from voicegate.core.channels import Channel
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import EmbeddedServer
from voicegate.server.metrics import GatewayMetrics
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider
from voicegate.voice.backend import VoiceBackend
from voicegate.voice.endpoint import HttpEndpoint, WebSocketEndpoint
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.recording import RecordingOptions
from voicegate.voice.session import VoiceSettings
from voicegate.voice.tokens import TokenAuth


class GatewayOptions(TypedDict, total=False):
    """What a test may choose of its :class:`VoiceGateway` (its defaults otherwise)."""

    responder: Channel | None
    settings: VoiceSettings | None
    max_sessions: int
    recording: RecordingOptions | None


@asynccontextmanager
async def served_gateway(
    stt: STTProvider,
    tts: TTSProvider,
    backends: Sequence[VoiceBackend],
    *,
    metrics: GatewayMetrics | None = None,
    page: bool = True,
    endpoints: Sequence[WebSocketEndpoint | HttpEndpoint] = (),
    tokens: TokenAuth | None = None,
    **options: Unpack[GatewayOptions],
) -> AsyncIterator[tuple[RoomKit, VoiceGateway, EmbeddedServer]]:
    """``backends`` on a started gateway (``metrics`` observing it) with an in-memory store,
    served by ``create_voice_app`` on a free port; closed at the end."""
    kit = RoomKit(store=InMemoryStore())
    gateway = VoiceGateway(kit, stt=stt, tts=tts, backends=backends, observer=metrics, **options)
    try:
        await gateway.start()
        app = create_voice_app(
            gateway, metrics=metrics, page=page, endpoints=endpoints, tokens=tokens
        )
        async with EmbeddedServer(app, "127.0.0.1", 0) as server:
            yield kit, gateway, server
            await gateway.close()
    finally:
        await kit.close()

"""A started voice gateway served on a free port: what the voice and phone tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from voicegate import InMemoryStore, RoomKit
from voicegate.core.channels import Channel
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import EmbeddedServer
from voicegate.server.metrics import GatewayMetrics
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider
from voicegate.voice.backend import VoiceBackend
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.session import VoiceSettings


@asynccontextmanager
async def served_gateway(
    stt: STTProvider,
    tts: TTSProvider,
    backends: Sequence[VoiceBackend],
    *,
    responder: Channel | None = None,
    settings: VoiceSettings | None = None,
    max_sessions: int = 32,
    metrics: GatewayMetrics | None = None,
    **app_options: Any,
) -> AsyncIterator[tuple[RoomKit, VoiceGateway, EmbeddedServer]]:
    """``backends`` on a started gateway (``metrics`` observing it) with an in-memory store,
    served by ``create_voice_app(..., **app_options)`` on a free port; closed at the end."""
    kit = RoomKit(store=InMemoryStore())
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
    try:
        await gateway.start()
        app = create_voice_app(gateway, metrics=metrics, **app_options)
        async with EmbeddedServer(app, "127.0.0.1", 0) as server:
            yield kit, gateway, server
            await gateway.close()
    finally:
        await kit.close()

"""``voicegate serve``: the page, both voice transports, health and metrics on one port."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal

from voicegate.core.channels import Channel
from voicegate.core.kit import RoomKit
from voicegate.core.store import ConversationStore, InMemoryStore
from voicegate.engines import create_stt, create_tts
from voicegate.errors import ConfigError
from voicegate.server.asgi import create_voice_app
from voicegate.server.config import ServeConfig
from voicegate.server.data_dir import prepare_data_dir
from voicegate.server.embedded import EmbeddedServer
from voicegate.server.metrics import GatewayMetrics
from voicegate.server.token_secret import load_token_secret
from voicegate.store.sqlite import SQLiteStore
from voicegate.voice.backend import VoiceBackend
from voicegate.voice.echo import EchoResponder
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.webrtc import WebRTCVoiceBackend
from voicegate.voice.websocket import WebSocketVoiceBackend

logger = logging.getLogger(__name__)

READY_LINE = "voicegate listening on "
"""What ``voicegate serve`` prints, followed by the page URL, once it accepts connections."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GatewayServer:
    """Everything ``voicegate serve`` runs, built from a :class:`ServeConfig`.

    Model and store problems surface from the constructor or :meth:`start` as
    exceptions with one-line messages; :meth:`stop` tells open sessions the server
    is going away and flushes the store.
    """

    def __init__(self, config: ServeConfig) -> None:
        if config.anonymous and not is_loopback(config.host):
            raise ConfigError(
                f"--anonymous is allowed on loopback only, not on host {config.host!r}"
            )
        self.config = config
        self.metrics = GatewayMetrics()
        self.auth = (
            None if config.anonymous else TokenAuth(load_token_secret(config), ttl=config.token_ttl)
        )
        self.kit = RoomKit(store=self._store())
        self.gateway = VoiceGateway(
            self.kit,
            stt=create_stt(config.stt_model),
            tts=create_tts(config.tts_voice),
            backends=self._backends(),
            responder=self._responder(),
            settings=config.voice,
            observer=self.metrics,
            max_sessions=config.max_sessions,
        )
        app = create_voice_app(self.gateway, metrics=self.metrics, tokens=self.auth)
        self.server = EmbeddedServer(app, config.host, config.port)

    def _store(self) -> ConversationStore:
        if self.config.store == "memory":
            return InMemoryStore()
        prepare_data_dir(self.config.data_dir)
        return SQLiteStore(self.config.store_path)

    def _backends(self) -> list[VoiceBackend]:
        anonymous = self.config.anonymous
        backends: list[VoiceBackend] = [WebSocketVoiceBackend(self.auth, allow_anonymous=anonymous)]
        if self.config.webrtc:
            backends.append(WebRTCVoiceBackend(self.auth, allow_anonymous=anonymous))
        return backends

    def _responder(self) -> Channel:
        if self.config.responder == "ai":
            from voicegate.voice.ai import AIChannel

            return AIChannel(base_url=self.config.ai_url, model=self.config.ai_model)
        return EchoResponder()

    @property
    def url(self) -> str:
        """The page's address with a fresh token (none needed when anonymous)."""
        token = None if self.auth is None else self.auth.issue("page")
        return self.config.page_url(token, self.server.port)

    async def start(self) -> None:
        """Open the store, warm the models up, then listen."""
        await self.kit.__aenter__()
        await self.gateway.start()
        await self.server.start()

    async def stop(self) -> None:
        """Tell open sessions the server is going away, stop listening, flush the store."""
        await self.gateway.close()
        await self.server.stop()
        await self.kit.close()


async def serve(config: ServeConfig) -> None:
    """Run the gateway until SIGINT or SIGTERM, then shut down gracefully."""
    server = GatewayServer(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await server.start()
        print(READY_LINE + server.url, flush=True)
        if server.auth is not None:
            print(
                "the open page renews its token; for a fresh link: "
                + server.config.fresh_link_command(server.server.port),
                flush=True,
            )
        await stop.wait()
        logger.info("shutting down: closing sessions and flushing the store")
    finally:
        await server.stop()

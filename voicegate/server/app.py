"""``voicegate serve``: the page, both voice transports, health and metrics on one port."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from voicegate.core.channels import Channel
from voicegate.engines import create_stt, create_tts
from voicegate.errors import ConfigError
from voicegate.server.asgi import create_voice_app
from voicegate.server.config import ServeConfig
from voicegate.server.dependencies import Dependencies
from voicegate.server.embedded import EmbeddedServer
from voicegate.server.metrics import GatewayMetrics
from voicegate.server.recording_recovery import recover_recordings
from voicegate.server.recordings import RECORDINGS_FOLDER, RecordingLibrary
from voicegate.server.state_dump import finish_within
from voicegate.server.state_dump import install as install_state_dump
from voicegate.server.token_secret import load_token_secret
from voicegate.telephony.sip.backend import SIPVoiceBackend
from voicegate.telephony.sip.digest import SIPDigestAuth
from voicegate.telephony.twilio.auth import TwilioSignatureAuth, TwilioTokenAuth
from voicegate.telephony.twilio.backend import TwilioVoiceBackend
from voicegate.telephony.twilio.twiml import TwiMLEndpoint
from voicegate.voice.backend import VoiceBackend
from voicegate.voice.echo import EchoResponder
from voicegate.voice.endpoint import HttpEndpoint, WebSocketEndpoint
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.recording import RecordingOptions
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.webrtc import WebRTCVoiceBackend
from voicegate.voice.websocket import WebSocketVoiceBackend

logger = logging.getLogger(__name__)

RETENTION_CHECK_S = 3600.0
"""How often ``voicegate serve`` deletes recordings past their retention."""
SHUTDOWN_LIMIT_S = 30.0
"""The longest a shutdown waits for sessions, the store and Redis to close (after the drain):
past it the process logs what was still waiting and exits, rather than hang on SIGINT."""
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

    ``responder`` replaces the one ``config.responder`` names (the evaluations use it).
    Model and store problems surface from the constructor or :meth:`start` as
    exceptions with one-line messages; :meth:`stop` tells open sessions the server
    is going away and flushes the store.
    """

    def __init__(self, config: ServeConfig, responder: Channel | None = None) -> None:
        if config.anonymous and not is_loopback(config.host):
            raise ConfigError(
                f"--anonymous is allowed on loopback only, not on host {config.host!r}"
            )
        if config.sip and not config.sip_users and not config.anonymous:
            raise ConfigError("--sip needs --sip-users (digest credentials) or --anonymous")
        self.config = config
        self.metrics = GatewayMetrics()
        self.auth = (
            None if config.anonymous else TokenAuth(load_token_secret(config), ttl=config.token_ttl)
        )
        self.dependencies = Dependencies(config)
        self.kit = self.dependencies.kit
        self.stt = create_stt(
            config.stt_model,
            device=config.stt_device,
            max_batch=config.stt_batch or None,
            partial_busy_limit=config.stt_partial_busy,
        )
        language = config.voice.stt_language
        if language is not None and not self.stt.supports_language(language):
            self.stt.close()
            raise ConfigError(f"--language {language}: {config.stt_model} does not know it")
        self.tts = create_tts(config.tts_voice)
        self.recordings = RecordingLibrary(config.data_dir / RECORDINGS_FOLDER)
        recording = (
            RecordingOptions(self.recordings.folder, config.recording_format)
            if config.record_calls
            else None
        )
        self._retention: asyncio.Task[None] | None = None
        self.gateway = VoiceGateway(
            self.kit,
            stt=self.stt,
            tts=self.tts,
            backends=self._backends(),
            responder=responder or self._responder(),
            settings=config.voice,
            observer=self.metrics,
            max_sessions=config.max_sessions,
            recording=recording,
        )
        app = create_voice_app(
            self.gateway,
            metrics=self.metrics,
            endpoints=self._endpoints(),
            tokens=self.auth,
            health=self.dependencies.health,
            recordings=self.recordings,
        )
        self.server = EmbeddedServer(app, config.host, config.port)

    def _backends(self) -> list[VoiceBackend]:
        anonymous = self.config.anonymous
        backends: list[VoiceBackend] = [WebSocketVoiceBackend(self.auth, allow_anonymous=anonymous)]
        if self.config.webrtc:
            backends.append(WebRTCVoiceBackend(self.auth, allow_anonymous=anonymous))
        if self.config.twilio:
            stream_auth = None if self.auth is None else TwilioTokenAuth(self.auth)
            backends.append(TwilioVoiceBackend(stream_auth, allow_anonymous=anonymous))
        if self.config.sip:
            backends.append(self._sip_backend())
        return backends

    def _sip_backend(self) -> SIPVoiceBackend:
        config = self.config
        users = SIPDigestAuth(config.sip_users, config.sip_realm) if config.sip_users else None
        return SIPVoiceBackend(
            users,
            allow_anonymous=config.anonymous,
            host=config.host,
            port=config.sip_port,
            transports=config.sip_transports,
            public_address=config.sip_public_address or None,
            rtp_ports=config.rtp_ports,
            rtp_timeout=config.rtp_timeout,
            uri_rooms=config.sip_room_from_uri,
        )

    def _endpoints(self) -> list[WebSocketEndpoint | HttpEndpoint]:
        """The TwiML webhook of Twilio numbers, when Twilio calls are taken."""
        config = self.config
        if not config.twilio:
            return []
        public_url = config.twilio_public_url or None
        signature = (
            TwilioSignatureAuth(config.twilio_auth_token, public_url)
            if config.twilio_auth_token
            else None
        )
        webhook = TwiMLEndpoint(
            self.auth, signature=signature, allow_unsigned=config.anonymous, public_url=public_url
        )
        return [webhook]

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
        """Open the store, post the recordings a crash cut off, warm the models up, then
        listen."""
        await self.dependencies.open()
        await recover_recordings(self.recordings, self.kit.store)
        await self.gateway.start()
        await self.server.start()
        if self.config.recording_retention_days > 0:
            self._retention = asyncio.create_task(self._apply_retention(), name="retention")

    async def _apply_retention(self) -> None:
        """Delete old recordings now and then every hour."""
        while True:
            days = self.config.recording_retention_days
            await asyncio.to_thread(self.recordings.delete_older_than, days)
            await asyncio.sleep(RETENTION_CHECK_S)

    async def stop(self) -> bool:
        """Tell open sessions the server is going away, stop listening, flush the store
        (within :data:`SHUTDOWN_LIMIT_S`), then stop the models; whether all of it closed."""
        closed = await finish_within(self._close(), SHUTDOWN_LIMIT_S, "closing")
        # the models' threads end before the interpreter does (see InferenceWorker)
        await asyncio.to_thread(self.stt.close)
        await asyncio.to_thread(self.tts.close)
        return closed

    async def _close(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
            await asyncio.gather(self._retention, return_exceptions=True)
        await self.gateway.close()
        await self.server.stop()
        await self.dependencies.close()


async def serve(config: ServeConfig, responder: Channel | None = None) -> bool:
    """Run the gateway until SIGINT or SIGTERM, then shut down gracefully: SIGTERM first
    drains (no new session; open ones get up to ``drain_timeout`` seconds to end, or
    until SIGINT); closing then takes at most :data:`SHUTDOWN_LIMIT_S`, and the result says
    whether all of it closed. SIGUSR1 logs what every task and thread is doing
    (:mod:`voicegate.server.state_dump`)."""
    server = GatewayServer(config, responder)
    interrupted = asyncio.Event()
    terminated = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    loop.add_signal_handler(signal.SIGTERM, terminated.set)
    install_state_dump(loop)
    try:
        await server.start()
        print(READY_LINE + server.url, flush=True)
        if server.auth is not None:
            print(
                "the open page renews its token; for a fresh link: "
                + server.config.fresh_link_command(server.server.port),
                flush=True,
            )
        await _first(interrupted.wait(), terminated.wait())
        if not interrupted.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(config.drain_timeout):
                    await _first(server.gateway.drain(), interrupted.wait())
        logger.info("shutting down: closing sessions and flushing the store")
    finally:
        closed = await server.stop()
    return closed


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    """Return once one of ``waits`` is done; cancel the others."""
    tasks = [asyncio.create_task(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

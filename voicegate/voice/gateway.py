"""The voice gateway: runs the sessions of every backend against one RoomKit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from voicegate.audio.vad import WebRTCVAD
from voicegate.core.channels import Channel
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import utcnow
from voicegate.errors import ModelLoadError, RoomKitError, RoomNotFoundError
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider
from voicegate.voice.access import RoomAccessDeniedError, RoomGrant
from voicegate.voice.backend import SessionRequest, VoiceBackend
from voicegate.voice.channel import VoiceChannel
from voicegate.voice.echo import EchoResponder
from voicegate.voice.inbound import InboundMixer
from voicegate.voice.protocol import CloseCode
from voicegate.voice.session import VoiceSession, VoiceSettings
from voicegate.voice.transport import VoiceTransport
from voicegate.voice.turn import TurnObserver

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)


class GatewayObserver(TurnObserver, Protocol):
    """Counts sessions and errors beside the turn timings (e.g. the Prometheus metrics)."""

    def session_opened(self, transport: str) -> None: ...

    def session_closed(self, transport: str) -> None: ...

    def error(self, kind: str) -> None: ...


class VoiceGateway:
    """Joins voice backends to a room engine: one session, one voice channel, per connection.

    Each session gets its own :class:`VoiceChannel` (``voice:<session id>``), attached
    to the room the client asked for, or to a new room; the ``responder`` (by default
    the :class:`EchoResponder`) is attached to every room a session uses. All sessions'
    inbound audio runs through one :class:`InboundMixer` (``inbound``; by default with
    WebRTC VAD at the settings' aggressiveness).
    """

    def __init__(
        self,
        kit: RoomKit,
        *,
        stt: STTProvider | None = None,
        tts: TTSProvider | None = None,
        backends: Sequence[VoiceBackend] = (),
        responder: Channel | None = None,
        settings: VoiceSettings | None = None,
        observer: GatewayObserver | None = None,
        max_sessions: int = 32,
        inbound: InboundMixer | None = None,
    ) -> None:
        self._kit = kit
        self._stt: STTProvider = stt if stt is not None else kit.stt
        self._tts: TTSProvider = tts if tts is not None else kit.tts
        if self._stt is None or self._tts is None:
            raise ValueError("VoiceGateway needs an STT and a TTS provider (or RoomKit(stt, tts))")
        self._backends = list(backends) or ([kit.voice] if kit.voice is not None else [])
        self._responder = responder if responder is not None else EchoResponder()
        self._settings = settings or VoiceSettings()
        self._observer = observer
        self._max_sessions = max_sessions
        self._mixer = (
            inbound
            if inbound is not None
            else InboundMixer(WebRTCVAD(self._settings.vad_aggressiveness))
        )
        self._sessions: dict[str, VoiceSession] = {}

    @property
    def sessions(self) -> dict[str, VoiceSession]:
        """Open sessions by id."""
        return self._sessions

    @property
    def kit(self) -> RoomKit:
        """The room engine the sessions talk to."""
        return self._kit

    @property
    def backends(self) -> tuple[VoiceBackend, ...]:
        """The backends whose connections this gateway runs."""
        return tuple(self._backends)

    def accepting(self) -> bool:
        """Whether another session fits under ``max_sessions``."""
        return len(self._sessions) < self._max_sessions

    def record_error(self, kind: str) -> None:
        """Count an error of ``kind`` in the observer (the metrics)."""
        if self._observer is not None:
            self._observer.error(kind)

    async def start(self) -> None:
        """Warm the models up, register the responder and start every backend.

        A model that cannot be loaded raises :class:`~voicegate.errors.ModelLoadError`.
        """
        for name, provider in (("speech recognition", self._stt), ("speech synthesis", self._tts)):
            began = time.monotonic()
            logger.info("warming up %s ...", name)
            try:
                await provider.warm_up()
            except RoomKitError:
                raise
            except Exception as exc:  # the engine's own error for a model it cannot load
                raise ModelLoadError.caused_by(f"the {name} model", exc) from exc
            logger.info("%s ready in %.2f s", name, time.monotonic() - began)
        self._kit.register_channel(self._responder)
        for backend in self._backends:
            backend.set_session_handler(self)
            await backend.start()

    async def close(self) -> None:
        """Close every backend (their sessions are told the server is going away)."""
        for backend in self._backends:
            await backend.close()
        await self._mixer.close()

    async def run_session(self, transport: VoiceTransport, request: SessionRequest) -> None:
        """Run one connection's session until its audio ends."""
        if not self.accepting():
            await transport.close(CloseCode.TRY_AGAIN_LATER, "server_busy")
            return
        try:
            room_id = await self._room_for(request)
        except RoomNotFoundError:
            await transport.close(CloseCode.ROOM_NOT_FOUND, "room_not_found")
            return
        except RoomAccessDeniedError as exc:
            logger.info("session refused: %s", exc)
            await transport.close(CloseCode.ROOM_FORBIDDEN, "room_forbidden")
            return
        participant = request.participant_id or str(request.metadata.get("subject", "caller"))
        session = VoiceSession(room_id, participant, transport, dict(request.metadata))
        channel = VoiceChannel(
            session, self._kit, self._stt, self._tts, self._settings, self._observer
        )
        await self._join(session, channel)
        try:
            await self._stream_audio(session, channel)
        finally:
            await self._leave(session, channel)

    async def _room_for(self, request: SessionRequest) -> str:
        """The room the session joins, as its auth metadata grants (``voice/access.py``)."""
        grant = RoomGrant.from_metadata(request.metadata)
        if request.room_id is None:
            room = await self._kit.create_room(metadata=grant.new_room_metadata())
        else:
            room = await grant.enter(self._kit, request.room_id)
        bindings = await self._kit.store.list_bindings(room.id)
        if all(b.channel_id != self._responder.channel_id for b in bindings):
            await self._kit.attach_channel(room.id, self._responder.channel_id)
        return room.id

    async def _join(self, session: VoiceSession, channel: VoiceChannel) -> None:
        self._sessions[session.id] = session
        self._kit.register_channel(channel)
        await self._kit.attach_channel(session.room_id, channel.channel_id)
        transport = session.transport
        transport.interrupt_handler = channel.interrupt
        self._mixer.add_session(
            session.id, transport.input_rate, transport.input_channels, channel.on_frame
        )
        if self._observer is not None:
            self._observer.session_opened(transport.kind)
        await transport.opened(session.id, session.room_id)
        await self._kit.hook_engine.framework.emit(
            "voice_session_started",
            room_id=session.room_id,
            channel_id=channel.channel_id,
            data={"session_id": session.id, "transport": transport.kind},
        )
        await self._kit.hook_engine.run_all(
            HookTrigger.ON_SESSION_STARTED, session, session, session.room_id
        )
        logger.debug("session %s (%s) joined room %s", session.id, transport.kind, session.room_id)

    async def _stream_audio(self, session: VoiceSession, channel: VoiceChannel) -> None:
        try:
            async for frame in session.transport.frames():
                self._mixer.push(session.id, frame)
        except ValueError as exc:  # a frame in a format the session did not announce
            logger.warning("session %s: %s", session.id, exc)
            self.record_error("audio_format")
            await session.transport.close(CloseCode.INVALID_PAYLOAD, "bad_audio_format")
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("session %s failed", session.id)
            self.record_error("session")
            await session.transport.close(CloseCode.INTERNAL_ERROR, "internal_error")

    async def _leave(self, session: VoiceSession, channel: VoiceChannel) -> None:
        self._mixer.remove_session(session.id)
        await channel.close()
        await self._kit.detach_channel(session.room_id, channel.channel_id)
        self._kit.unregister_channel(channel.channel_id)
        self._sessions.pop(session.id, None)
        if self._observer is not None:
            self._observer.session_closed(session.transport.kind)
        await self._kit.hook_engine.framework.emit(
            "voice_session_ended",
            room_id=session.room_id,
            channel_id=channel.channel_id,
            data={"session_id": session.id},
        )
        await self._kit.hook_engine.run_all(
            HookTrigger.ON_SESSION_ENDED, session, session, session.room_id
        )
        lasted = (utcnow() - session.created_at).total_seconds()
        logger.info(  # the one line per call at info
            "call %s (%s) in room %s ended after %.1f s",
            session.id,
            session.transport.kind,
            session.room_id,
            lasted,
        )

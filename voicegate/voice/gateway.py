"""The voice gateway: runs the sessions of every backend against one RoomKit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from voicegate.core.channels import Channel
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import utcnow
from voicegate.core.store import StoreUnavailableError
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.errors import ModelLoadError, RoomKitError, RoomNotFoundError
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider
from voicegate.voice.access import OWNER_KEY, RoomAccessDeniedError
from voicegate.voice.admission import SERVER_BUSY, Admission, CapacityError, SessionSlot
from voicegate.voice.backend import SessionRequest, VoiceBackend
from voicegate.voice.canceller_view import CancellerView
from voicegate.voice.channel import VoiceChannel
from voicegate.voice.detectors import Detectors, SessionDetectors
from voicegate.voice.echo import EchoResponder
from voicegate.voice.gateway_rooms import SessionRooms
from voicegate.voice.inbound import InboundMixer
from voicegate.voice.notices import SessionError
from voicegate.voice.protocol import UNSUPPORTED_LANGUAGE, CloseCode
from voicegate.voice.recording import CallRecorder, RecordingOptions, post_recording
from voicegate.voice.session import (
    VoiceSession,
    VoiceSettings,
    with_session_choices,
)
from voicegate.voice.transport import VoiceTransport
from voicegate.voice.turn import STORE_UNAVAILABLE, TurnObserver

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)


class GatewayObserver(TurnObserver, Protocol):
    """Counts sessions and errors beside the turn timings (e.g. the Prometheus metrics)."""

    def session_opened(self, transport: str) -> None: ...

    def session_closed(self, transport: str) -> None: ...

    def error(self, kind: str) -> None: ...

    def line_quality(
        self, transport: str, direction: str, lost_ratio: float, jitter_s: float
    ) -> None: ...


class VoiceGateway:
    """Joins voice backends to a room engine: one session, one voice channel, per connection.

    Each session gets its own :class:`VoiceChannel` (``voice:<session id>``), attached
    to the room the client asked for, or to a new room; the ``responder`` (by default
    the :class:`EchoResponder`) is attached to every room a session uses. A room the
    gateway made (metadata ``voice: True``) is closed when its last session leaves; a
    room the application made is the application's and stays open. Each session runs on
    ``settings`` with the choices its client made (``SessionRequest.settings``). All
    sessions' inbound audio runs through one :class:`InboundMixer` (``inbound``; by
    default with the VAD ``settings`` name), with an :class:`EchoCanceller` for each
    session that wants echo cancellation or noise suppression. The end-of-turn model
    (``turn_model``, Smart Turn by default) and the VADs are shared by all sessions.
    Sessions are admitted by :class:`Admission` (``max_sessions``, and the recogniser's
    measured load: ``max_final_wait`` seconds, ``max_final_busy``). With ``recording``, a
    session whose client asks for it (``SessionRequest.record``) is recorded
    (``voice/recording.py``), and its recording becomes an audio event of its room when it
    ends.
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
        max_final_wait: float = 1.0,
        max_final_busy: float = 0.8,
        inbound: InboundMixer | None = None,
        turn_model: EndOfTurnModel | None = None,
        recording: RecordingOptions | None = None,
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
        self._admission = Admission(
            max_sessions,
            self._stt.pressure,
            max_final_wait=max_final_wait,
            max_final_busy=max_final_busy,
        )
        self._detectors = Detectors(
            self._settings, vad=inbound.vad if inbound else None, turn_model=turn_model
        )
        self._mixer = inbound or InboundMixer(self._detectors.vad(self._settings.vad))
        self._recording = recording
        self._sessions: dict[str, VoiceSession] = {}
        self._draining = False
        self._emptied = asyncio.Event()
        self._rooms = SessionRooms(kit, self._responder.channel_id, self._sessions)

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

    @property
    def admission(self) -> Admission:
        """Who admits sessions: their slots and the recogniser's capacity."""
        return self._admission

    def reserve(self) -> SessionSlot:
        """A slot for a new session, taken now; :class:`CapacityError` if there is none."""
        try:
            if self._draining:
                raise CapacityError(SERVER_BUSY, "draining: the server is shutting down")
            return self._admission.reserve()
        except CapacityError as refusal:
            self.record_error(refusal.reason)
            raise

    @property
    def draining(self) -> bool:
        """Whether :meth:`drain` was called: no new session is admitted."""
        return self._draining

    async def drain(self) -> None:
        """Admit no more sessions and return once the open ones have ended (bound it with
        a timeout; then :meth:`close` tells the rest the server is going away)."""
        self._draining = True
        logger.info("draining: waiting for %d sessions to end", len(self._sessions))
        while self._sessions:
            self._emptied.clear()
            await self._emptied.wait()

    def record_error(self, kind: str) -> None:
        """Count an error of ``kind`` in the observer (the metrics)."""
        if self._observer is not None:
            self._observer.error(kind)

    def record_line_quality(
        self, transport: str, direction: str, lost_ratio: float, jitter_s: float
    ) -> None:
        """Record a call's loss and jitter one way in the observer (the metrics)."""
        if self._observer is not None:
            self._observer.line_quality(transport, direction, lost_ratio, jitter_s)

    async def start(self) -> None:
        """Warm the models up, register the responder and start every backend.

        A model that cannot be loaded raises :class:`~voicegate.errors.ModelLoadError`.
        """
        for name, provider in (
            ("speech recognition", self._stt),
            ("speech synthesis", self._tts),
            ("turn detection", self._detectors),
        ):
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
        self._detectors.close()

    async def run_session(
        self, transport: VoiceTransport, request: SessionRequest, slot: SessionSlot
    ) -> None:
        """Run one connection's session in ``slot`` (from :meth:`reserve`) until its audio
        ends; the slot is released at the end."""
        with slot:
            settings = self._settings
            if request.language is not None:
                settings = replace(settings, language=request.language)
            if (language := settings.stt_language) and not self._stt.supports_language(language):
                logger.info("session refused: the recogniser does not know language %r", language)
                await transport.close(CloseCode.PROTOCOL_VIOLATION, UNSUPPORTED_LANGUAGE)
                return
            try:
                room_id = await self._rooms.enter(request)
            except RoomNotFoundError:
                await transport.close(CloseCode.ROOM_NOT_FOUND, "room_not_found")
                return
            except RoomAccessDeniedError as exc:
                logger.info("session refused: %s", exc)
                await transport.close(CloseCode.ROOM_FORBIDDEN, "room_forbidden")
                return
            except StoreUnavailableError:
                self.record_error("store")
                await transport.close(CloseCode.TRY_AGAIN_LATER, STORE_UNAVAILABLE)
                return
            participant = request.participant_id or str(request.metadata.get("subject", "caller"))
            session = VoiceSession(room_id, participant, transport, dict(request.metadata))
            given = self._detectors.for_session(with_session_choices(settings, request.settings))
            recorder = await self._recorder_for(session) if request.record else None
            transport.recording = recorder is not None
            channel = VoiceChannel(
                session,
                self._kit,
                self._stt,
                self._tts,
                given.settings,
                self._observer,
                turn_model=given.turn_model,
                recorder=recorder,
            )
            try:
                await self._join(session, channel, given)
                await self._stream_audio(session, channel)
                self._mixer.finish(session.id)
                await channel.finish_turns()
            except StoreUnavailableError:
                self.record_error("store")
                await transport.close(CloseCode.TRY_AGAIN_LATER, STORE_UNAVAILABLE)
            finally:
                await self._leave(session, channel)

    async def _recorder_for(self, session: VoiceSession) -> CallRecorder | None:
        """A recorder of ``session``, if this gateway records calls."""
        if self._recording is None:
            return None
        room = await self._kit.get_room(session.room_id)
        owner = room.metadata.get(OWNER_KEY)
        return CallRecorder(self._recording, session, owner if isinstance(owner, str) else None)

    async def _join(
        self,
        session: VoiceSession,
        channel: VoiceChannel,
        given: SessionDetectors,
    ) -> None:
        self._sessions[session.id] = session
        self._kit.register_channel(channel)
        await self._kit.attach_channel(session.room_id, channel.channel_id)
        transport = session.transport
        transport.message_handler = channel.on_message
        canceller = given.canceller
        if canceller is not None:
            transport.played_handler = canceller.played
            channel.listener.canceller = CancellerView(canceller, given.vad or self._mixer.vad)
        transport.dtmf_handler = channel.press
        self._mixer.add_session(
            session.id,
            transport.input_rate,
            transport.input_channels,
            channel.on_frame,
            vad=given.vad,
            capture=None if canceller is None else canceller.process,
            on_refused=channel.audio_refused,
            stall_ms=transport.stall_ms,
        )
        if self._observer is not None:
            self._observer.session_opened(transport.kind)
        transport.session_settings = given.settings.session_choices()
        if channel.recorder is not None:
            channel.recorder.start()
        await transport.opened(session.id, session.room_id)
        for reason in given.refused:
            logger.warning("session %s runs without %s", session.id, reason)
            await transport.notify(SessionError("setting_unavailable", reason))
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
        """Feed the session's audio to the mixer until it ends; while the listener has no
        room (its recogniser far behind), the transport is not read: the audio waits there."""
        try:
            async for frame in session.transport.frames():
                if not channel.listener.has_room:
                    self._mixer.hold(session.id)
                    await channel.listener.room_for_audio()
                    self._mixer.release(session.id)
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
        """Undo whatever of :meth:`_join` happened; a failing step never stops the next."""
        if channel.recorder is not None:
            channel.recorder.end()  # the call's length: now, not once the channel has closed
        self._mixer.remove_session(session.id)
        await _logged(channel.close(), "closing the voice channel of", session)
        if channel.recorder is not None:
            posting = post_recording(self._kit, channel.recorder)
            await _logged(posting, "posting the recording of", session)
        room_id, channel_id = session.room_id, channel.channel_id
        if channel_id in await self._rooms.bound_channels(room_id):
            await _logged(self._kit.detach_channel(room_id, channel_id), "detaching", session)
        self._kit.unregister_channel(channel_id)
        if self._sessions.pop(session.id, None) is None:
            return  # it never joined
        if not self._sessions:
            self._emptied.set()
        if self._observer is not None:
            self._observer.session_closed(session.transport.kind)
        framework = self._kit.hook_engine.framework
        data = {"session_id": session.id}
        ended = framework.emit(
            "voice_session_ended", room_id=room_id, channel_id=channel_id, data=data
        )
        await _logged(ended, "announcing the end of", session)
        hooks = self._kit.hook_engine.run_all(
            HookTrigger.ON_SESSION_ENDED, session, session, room_id
        )
        await _logged(hooks, "running the end hooks of", session)
        lasted = (utcnow() - session.created_at).total_seconds()
        logger.info(  # the one line per call at info
            "call %s (%s) in room %s ended after %.1f s",
            session.id,
            session.transport.kind,
            room_id,
            lasted,
        )
        await _logged(self._rooms.close_if_emptied(room_id), "closing the room of", session)


async def _logged(step: Awaitable[object], what: str, session: VoiceSession) -> None:
    """Await ``step``; a failure is logged, not raised (a session's end must go on)."""
    try:
        await step
    except StoreUnavailableError as error:
        logger.error("%s session %s failed: %s", what, session.id, error)
    except Exception:
        logger.exception("%s session %s failed", what, session.id)

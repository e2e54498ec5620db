"""Twilio calls as voice sessions: a Media Stream WebSocket endpoint (``/twilio/stream``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from voicegate.telephony.twilio.auth import TwilioStreamRequest
from voicegate.telephony.twilio.messages import StreamStarted, TwilioStream
from voicegate.telephony.twilio.transport import TwilioTransport
from voicegate.telephony.twilio.twiml import ROOM_PARAMETER
from voicegate.voice.auth import AuthCallback, authenticate
from voicegate.voice.backend import SessionRequest
from voicegate.voice.endpoint import MessageSocket, SocketClosedError
from voicegate.voice.http import HttpRequest
from voicegate.voice.protocol import CloseCode
from voicegate.voice.socket_backend import SocketVoiceBackend

logger = logging.getLogger(__name__)


class TwilioVoiceBackend(SocketVoiceBackend[TwilioTransport]):
    """Voice sessions over Twilio Media Streams at ``path`` (a ``WebSocketEndpoint``).

    Twilio opens the WebSocket that a call's ``<Connect><Stream>`` names and sends
    ``connected`` and ``start``; the stream is authenticated then, when the callback can
    see both the upgrade request and the start (a :class:`TwilioStreamRequest`): a
    rejected stream is closed with 4401, one without ``start`` within ``start_timeout``
    seconds with 4408. The custom parameter ``room_id`` names the room to join (none: a
    new room). ``playout_lead`` and ``mark_timeout`` shape :class:`TwilioTransport`.
    """

    name = "twilio"

    def __init__(
        self,
        auth: AuthCallback | None = None,
        *,
        allow_anonymous: bool = False,
        path: str = "/twilio/stream",
        start_timeout: float = 10.0,
        playout_lead: float = 0.1,
        mark_timeout: float = 5.0,
    ) -> None:
        super().__init__(path)
        self._auth = auth
        self._allow_anonymous = allow_anonymous
        self._start_timeout = start_timeout
        self._lead = playout_lead
        self._mark_timeout = mark_timeout

    async def serve_socket(self, request: HttpRequest, socket: MessageSocket) -> None:
        """Accept Twilio's WebSocket, authenticate its stream and run the call's session."""
        await socket.accept()
        await self.serve_registered(socket, lambda: self._serve_call(request, socket))

    async def _serve_call(self, request: HttpRequest, socket: MessageSocket) -> None:
        stream = TwilioStream()
        start = await self._await_start(socket, stream)
        if start is None:
            return
        context = TwilioStreamRequest(request, start)
        outcome = await authenticate(self._auth, context, allow_anonymous=self._allow_anonymous)
        if not outcome.accepted:
            self.session_handler.record_error("auth")
            await socket.close(CloseCode.UNAUTHORIZED, outcome.reason)
            return

        def open_transport() -> TwilioTransport:
            logger.info("Twilio call %s: stream %s", start.call_sid, start.stream_sid)
            return TwilioTransport(socket, stream, lead=self._lead, mark_timeout=self._mark_timeout)

        def ended() -> None:
            if stream.close_code is not None and stream.close_code != CloseCode.NORMAL:
                self.session_handler.record_error("protocol")

        await self.run_in_reserved_slot(
            socket,
            open_transport,
            _session_request(outcome.metadata, start),
            outcome.metadata,
            ended=ended,
        )

    async def _await_start(
        self, socket: MessageSocket, stream: TwilioStream
    ) -> StreamStarted | None:
        """Read up to the ``start`` message; ``None`` when the stream ended or was closed."""
        try:
            async with asyncio.timeout(self._start_timeout):
                while stream.start is None and stream.close_code is None and not stream.stopped:
                    stream.receive(await socket.receive())
        except TimeoutError:
            stream.close(CloseCode.HELLO_TIMEOUT, "start_timeout")
        except SocketClosedError:
            return None
        if stream.start is None or stream.close_code is not None:
            self.session_handler.record_error("protocol")
            await socket.close(
                stream.close_code or CloseCode.PROTOCOL_VIOLATION, stream.close_reason
            )
            return None
        return stream.start


def _session_request(metadata: dict[str, Any], start: StreamStarted) -> SessionRequest:
    """The session a stream asks for: its ``room_id`` parameter, the caller's identity;
    recorded wherever the server records calls (a phone caller cannot ask)."""
    room = start.custom_parameters.get(ROOM_PARAMETER) or None
    caller = metadata.get("subject") or start.call_sid or "twilio"
    details = {**metadata, "twilio_call_sid": start.call_sid}
    return SessionRequest(details, room, str(caller), record=True)

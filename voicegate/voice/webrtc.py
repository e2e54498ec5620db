"""Voice over WebRTC: SDP offer/answer over HTTP, media and events on aiortc."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from voicegate.voice.admission import CapacityError, SessionSlot
from voicegate.voice.auth import AuthCallback, authenticate
from voicegate.voice.backend import SessionRequest, VoiceBackend
from voicegate.voice.hello import (
    PROTOCOL_VERSIONS,
    UNSUPPORTED_PROTOCOL,
    is_int,
    is_language_code,
)
from voicegate.voice.http import HttpReply, HttpRequest
from voicegate.voice.protocol import GOING_AWAY, UNSUPPORTED_LANGUAGE, CloseCode
from voicegate.voice.rtc import (
    IceGatheringTimeoutError,
    InvalidOfferError,
    PacedAudioTrack,
    answer_offer,
)
from voicegate.voice.webrtc_transport import SessionRefusedError, WebRTCTransport

logger = logging.getLogger(__name__)

_REFUSALS: dict[int, tuple[int, str]] = {
    CloseCode.ROOM_FORBIDDEN: (403, "this token may not join that room"),
    CloseCode.ROOM_NOT_FOUND: (404, "room not found"),
    CloseCode.TRY_AGAIN_LATER: (503, "the server is not accepting sessions now"),
    CloseCode.GOING_AWAY: (503, "the server is shutting down"),
}


MAX_OFFER_BYTES = 65536
"""The default limit of an offer's body: an SDP offer is a few KiB."""


class WebRTCVoiceBackend(VoiceBackend):
    """Voice sessions over WebRTC, offered with ``POST <path>``.

    An :class:`~voicegate.voice.endpoint.HttpEndpoint`: the server hosting voicegate
    (``voicegate.server.asgi.create_voice_app``) reads each offer's body (at most
    ``max_offer_bytes``) and writes back what :meth:`respond` returns. Each offer is
    authenticated on its HTTP request, answered with host candidates only (loopback
    included), and its session started; the response carries the answer SDP and the
    session's id, so it is sent once the gateway has opened the session (at most
    ``open_timeout`` seconds after the answer). A client whose connection is not up
    ``connect_timeout`` seconds after the answer loses its session. ``docs/protocol.md``
    lists every status code.
    """

    name = "webrtc"

    def __init__(
        self,
        auth: AuthCallback | None = None,
        *,
        allow_anonymous: bool = False,
        path: str = "/webrtc/offer",
        max_offer_bytes: int = MAX_OFFER_BYTES,
        gathering_timeout: float = 5.0,
        open_timeout: float = 3.0,
        connect_timeout: float = 15.0,
    ) -> None:
        super().__init__()
        self._auth = auth
        self._allow_anonymous = allow_anonymous
        self._path = path
        self._max_offer_bytes = max_offer_bytes
        self._gathering_timeout = gathering_timeout
        self._open_timeout = open_timeout
        self._connect_timeout = connect_timeout
        self._sessions: dict[WebRTCTransport, asyncio.Task[None]] = {}
        self._closing = False

    @property
    def session_count(self) -> int:
        """Answered offers whose session has not ended."""
        return len(self._sessions)

    @property
    def path(self) -> str:
        """Where the server routes this backend's offers."""
        return self._path

    @property
    def max_body_bytes(self) -> int:
        """The largest offer body accepted (413 beyond)."""
        return self._max_offer_bytes

    async def close(self) -> None:
        """Close every session with 1001 (going away) and wait for them to end."""
        self._closing = True
        sessions = dict(self._sessions)
        await asyncio.gather(*(t.close(CloseCode.GOING_AWAY, GOING_AWAY) for t in sessions))
        await asyncio.gather(*sessions.values(), return_exceptions=True)

    async def respond(self, request: HttpRequest) -> HttpReply:
        """Answer one offer request: the answer SDP and session id, or an error reply.

        ``docs/protocol.md`` lists every status; none of them raises.
        """
        outcome = await authenticate(self._auth, request, allow_anonymous=self._allow_anonymous)
        if not outcome.accepted:
            self.session_handler.record_error("auth")
            return HttpReply.error(401, outcome.reason)
        if not _is_json(request.headers.get("Content-Type", "")):
            return self._refuse_offer(415, "send the offer as Content-Type: application/json")
        try:
            offer = _read_offer(request)
        except ValueError as exc:
            return self._refuse_offer(400, str(exc))
        if self._closing:
            return HttpReply.error(503, "the server is shutting down")
        try:
            slot = self.session_handler.reserve()  # before anything is awaited
        except CapacityError as refusal:
            return HttpReply.error(503, f"the server is not accepting sessions now: {refusal}")
        with slot:  # released unless the session takes it over
            outbound = PacedAudioTrack()
            try:
                peer = await answer_offer(
                    offer.sdp,
                    outbound,
                    offer_type=offer.type,
                    gathering_timeout=self._gathering_timeout,
                )
            except InvalidOfferError as exc:
                return self._refuse_offer(400, str(exc))
            except IceGatheringTimeoutError as exc:
                logger.warning("offer not answered: %s", exc)
                return HttpReply.error(503, str(exc))
            transport = WebRTCTransport(
                peer.connection, peer.inbound_audio, outbound, self._connect_timeout, offer.version
            )
            session_request = SessionRequest(
                outcome.metadata, offer.room_id, language=offer.language, record=offer.record
            )
            self._sessions[transport] = asyncio.create_task(
                self._run(transport, session_request, slot.hand_over()), name="webrtc-session"
            )
        try:
            async with asyncio.timeout(self._open_timeout):
                session_id = await transport.wait_opened()
        except SessionRefusedError as exc:
            if (exc.code, exc.reason) == (CloseCode.PROTOCOL_VIOLATION, UNSUPPORTED_LANGUAGE):
                unknown = f"the recogniser does not know language {offer.language!r}"
                return self._refuse_offer(400, f"{UNSUPPORTED_LANGUAGE}: {unknown}")
            status, message = _REFUSALS.get(exc.code, (500, "the session could not start"))
            if exc.code == CloseCode.TRY_AGAIN_LATER and exc.reason:  # which limit
                message = f"{message}: {exc.reason}"
            return HttpReply.error(status, message)
        except TimeoutError:
            logger.warning("session not opened within %.1f s", self._open_timeout)
            await transport.close(CloseCode.TRY_AGAIN_LATER, "server_busy")
            return HttpReply.error(503, "the session did not start in time")
        return HttpReply(200, {"sdp": peer.answer_sdp, "type": "answer", "session_id": session_id})

    def _refuse_offer(self, status: int, message: str) -> HttpReply:
        """Count, log (one line) and answer an offer refused for what the client sent."""
        logger.info("offer refused with %d: %s", status, message)
        self.session_handler.record_error("offer")
        return HttpReply.error(status, message)

    async def _run(
        self, transport: WebRTCTransport, request: SessionRequest, slot: SessionSlot
    ) -> None:
        try:
            await self.run_admitted_session(
                transport,
                request,
                slot,
                request.metadata,
                ended=lambda: self._sessions.pop(transport, None),
            )
        except Exception:
            logger.exception("webrtc session failed")


@dataclass(frozen=True, slots=True)
class _Offer:
    """What an offer's body asks for."""

    sdp: str
    type: str
    room_id: str | None
    language: str | None
    record: bool
    version: int


def _read_offer(request: HttpRequest) -> _Offer:
    """The offer in a request's body; ``ValueError`` saying what is wrong."""
    body: Any = request.json()
    if not isinstance(body, dict):
        raise ValueError("the offer must be a JSON object")
    offer_sdp, offer_type, room_id = body.get("sdp"), body.get("type"), body.get("room_id")
    if not isinstance(offer_sdp, str) or not offer_sdp:
        raise ValueError('the offer needs "sdp", a string')
    if not isinstance(offer_type, str):
        raise ValueError('the offer needs "type", a string ("offer")')
    if room_id is not None and not isinstance(room_id, str):
        raise ValueError('"room_id" must be a string or null')
    language = body.get("language")
    if not (language is None or is_language_code(language)):
        raise ValueError('"language" must be null, "auto" or a language code such as "fr"')
    record = body.get("record", False)
    if not isinstance(record, bool):
        raise ValueError('"record" must be true or false')
    version = body.get("protocol", 1)
    if not is_int(version) or version not in PROTOCOL_VERSIONS:
        versions = " or ".join(map(str, PROTOCOL_VERSIONS))
        raise ValueError(f'{UNSUPPORTED_PROTOCOL}: "protocol" must be {versions}')
    return _Offer(offer_sdp, offer_type, room_id, language, record, version)


def _is_json(content_type: str) -> bool:
    """Whether ``content_type`` is ``application/json`` (parameters such as charset allowed)."""
    return content_type.partition(";")[0].strip().lower() == "application/json"

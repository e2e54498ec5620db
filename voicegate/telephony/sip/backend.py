"""SIP calls as voice sessions: a user agent server on UDP and TCP (RFC 3261)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from voicegate.telephony.media import NoRTPPortError, RTPMedia
from voicegate.telephony.sdp import AudioStream, SDPError, choose_media, parse_sdp
from voicegate.telephony.sip.call import RETRY_AFTER_S, CallSettings, SIPCall
from voicegate.telephony.sip.dialog import ALLOWED_METHODS, Dialog, make_response
from voicegate.telephony.sip.digest import Challenger
from voicegate.telephony.sip.fields import SIPURI, NameAddress, Via
from voicegate.telephony.sip.message import (
    SIPMessage,
    SIPParseError,
    SIPRequest,
    SIPResponse,
    serialize,
)
from voicegate.telephony.sip.network import SIPListeners, SIPPeer
from voicegate.telephony.sip.transactions import (
    TRANSACTION_LIFETIME,
    Retransmission,
    ServerTransaction,
    TransactionKey,
    TransactionTable,
    transaction_key,
)
from voicegate.voice.admission import CapacityError, SessionSlot
from voicegate.voice.auth import AuthCallback, authenticate
from voicegate.voice.backend import SessionRequest, VoiceBackend
from voicegate.voice.protocol import GOING_AWAY, CloseCode

logger = logging.getLogger(__name__)

UNSUPPORTED_METHODS = frozenset(
    {"REGISTER", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "UPDATE", "PRACK", "PUBLISH"}
)
"""Methods voicegate knows and does not take (405); any other unknown one gets 501."""
ROOM_HEADER = "X-Voicegate-Room"
SHUTDOWN_WAIT_S = 5.0
"""How long closing waits for the calls' BYEs to be answered."""


@dataclass(slots=True)
class _Invite:
    """An INVITE being answered: its transaction, its call once made, whether cancelled."""

    transaction: ServerTransaction
    call: SIPCall | None = None
    cancelled: bool = False


class SIPVoiceBackend(VoiceBackend):
    """Phone calls over SIP on ``host:port``, UDP and TCP (``transports``), audio over RTP.

    Each INVITE is authenticated by ``auth`` with the :class:`SIPRequest` (method, URI,
    headers, ``remote_address``): a callback that is a :class:`Challenger` (such as
    :class:`~voicegate.telephony.sip.digest.SIPDigestAuth`) gets a 401 challenge sent
    back, any other rejection is 403. INVITEs are admitted one at a time: once the gateway
    is full (``max_sessions``) they get 503 with Retry-After. The call joins the room its
    ``room_header`` names, else, with ``uri_rooms``, the room the Request-URI's user part
    names, else a new room. ``public_address`` is the address voicegate gives in Contact
    and SDP (default: ``host``, or the Request-URI's host when ``host`` is a wildcard);
    RTP uses a port of ``rtp_ports``; a call without RTP for ``rtp_timeout`` seconds
    while the caller should be sending is hung up.
    """

    name = "sip"

    def __init__(
        self,
        auth: AuthCallback | None = None,
        *,
        allow_anonymous: bool = False,
        host: str = "127.0.0.1",
        port: int = 5060,
        transports: tuple[str, ...] = ("udp", "tcp"),
        public_address: str | None = None,
        rtp_ports: tuple[int, int] = (10000, 20000),
        rtp_timeout: float = 30.0,
        room_header: str = ROOM_HEADER,
        uri_rooms: bool = False,
    ) -> None:
        super().__init__()
        self._auth = auth
        self._allow_anonymous = allow_anonymous
        self._host = host
        self._public_address = public_address
        self._rtp_ports = rtp_ports
        self._rtp_timeout = rtp_timeout
        self._room_header = room_header
        self._uri_rooms = uri_rooms
        self._transports = transports
        self._listeners = SIPListeners(self._received, host, port, transports)
        self._transactions = TransactionTable()
        self._admission = asyncio.Lock()
        self._calls: dict[SIPCall, asyncio.Task[None] | None] = {}
        self._invites: dict[TransactionKey, _Invite] = {}
        self._requests: dict[str, asyncio.Future[SIPResponse]] = {}  # ours, by branch
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def port(self) -> int:
        """The port listened on (the bound one after :meth:`start`, for ``port=0``)."""
        return self._listeners.port

    @property
    def calls(self) -> tuple[SIPCall, ...]:
        """The calls being set up or running."""
        return tuple(self._calls)

    @property
    def session_count(self) -> int:
        """Calls whose session is running."""
        return sum(task is not None for task in self._calls.values())

    async def start(self) -> None:
        """Listen for SIP on UDP and TCP."""
        await self._listeners.start()
        logger.info("SIP on %s:%d (%s)", self._host, self.port, "/".join(self._transports))

    async def close(self) -> None:
        """Refuse new calls, hang up every call (BYE), stop listening."""
        self._closing = True
        hang_ups = [call.close(CloseCode.GOING_AWAY, GOING_AWAY) for call in self._calls]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SHUTDOWN_WAIT_S):
                await asyncio.gather(*hang_ups, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._transactions.close()
        await self._listeners.close()

    # ---- what arrives -------------------------------------------------------------------

    def _received(self, message: SIPMessage | SIPParseError, peer: SIPPeer) -> None:
        try:
            if isinstance(message, SIPParseError):
                self._malformed(message, peer)
            elif isinstance(message, SIPResponse):
                self._response(message)
            else:
                message.remote_address, message.transport = peer.address, peer.transport
                self._request(message, peer)
        except Exception:
            logger.exception("SIP message from %s:%d failed", *peer.address)

    def _malformed(self, error: SIPParseError, peer: SIPPeer) -> None:
        self.session_handler.record_error("protocol")
        logger.warning("malformed SIP from %s:%d (%d): %s", *peer.address, error.status, error)
        request = error.request
        if request is not None and request.method != "ACK" and request.headers.values("Via"):
            request.remote_address = peer.address
            peer.send(serialize(make_response(request, error.status)))

    def _response(self, response: SIPResponse) -> None:
        vias = response.headers.values("Via")
        with contextlib.suppress(ValueError):
            branch = Via.parse(vias[0]).branch if vias else ""
            waiting = self._requests.get(branch)
            if waiting is not None and response.status >= 200 and not waiting.done():
                waiting.set_result(response)

    def _request(self, request: SIPRequest, peer: SIPPeer) -> None:
        existing = self._transactions.find(request)
        if request.method == "ACK":
            if existing is not None:
                existing.acknowledged()  # of a refusal
            elif (call := self._call_of(request)) is not None:
                call.acknowledged(request)
            return
        if existing is not None:  # a retransmission: answered again, never handled twice
            if existing.response is not None:
                peer.send(existing.response)
            return
        transaction = self._transactions.open(request, peer)
        if request.method == "CANCEL":
            self._cancel(request, transaction)
        elif _to_tag(request):
            call = self._call_of(request)
            if call is None:
                transaction.respond(make_response(request, 481))
            else:
                call.request(request, transaction)
        elif request.method == "INVITE":
            invite = _Invite(transaction)
            key = transaction_key(request)
            if key is not None:
                self._invites[key] = invite
            self._spawn(self._invite(request, invite, key))
        elif request.method == "OPTIONS":
            allow = [("Allow", ALLOWED_METHODS), ("Accept", "application/sdp")]
            transaction.respond(make_response(request, 200, headers=allow))
        elif request.method in ("BYE", "INFO"):
            transaction.respond(make_response(request, 481))
        elif request.method in UNSUPPORTED_METHODS:
            allow = [("Allow", ALLOWED_METHODS)]
            transaction.respond(make_response(request, 405, headers=allow))
        else:
            transaction.respond(make_response(request, 501))

    def _cancel(self, cancel: SIPRequest, transaction: ServerTransaction) -> None:
        key = transaction_key(cancel)
        invite = self._invites.get((key[0], key[1], "INVITE")) if key is not None else None
        if invite is None:
            transaction.respond(make_response(cancel, 481))
            return
        transaction.respond(make_response(cancel, 200))
        if invite.call is not None:
            cancelled = invite.call.cancelled()
        elif cancelled := not invite.cancelled:  # not a call yet: refused here
            terminated = make_response(invite.transaction.request, 487)
            invite.transaction.respond(terminated, until_acknowledged=True)
        invite.cancelled = True
        if cancelled:
            logger.info("SIP INVITE %s cancelled by the caller", cancel.headers.get("Call-ID"))

    def _call_of(self, request: SIPRequest) -> SIPCall | None:
        return next((call for call in self._calls if call.dialog.matches(request)), None)

    # ---- a new call ---------------------------------------------------------------------

    async def _invite(
        self, request: SIPRequest, invite: _Invite, key: TransactionKey | None
    ) -> None:
        transaction = invite.transaction
        transaction.respond(make_response(request, 100))
        try:
            try:
                slot = self.session_handler.reserve()  # before anything is awaited
            except CapacityError as refusal:
                logger.info("SIP INVITE refused: %s", refusal)
                transaction.respond(_busy(request), until_acknowledged=True)
                return
            with slot:  # released unless the call takes it over
                async with self._admission:
                    admitted = await self._admit(request)
                    if invite.cancelled:
                        return
                    if isinstance(admitted, SIPResponse):
                        transaction.respond(admitted, until_acknowledged=True)
                        return
                    try:
                        call = await self._create_call(request, transaction)
                    except (SDPError, NoRTPPortError) as error:
                        logger.info("SIP INVITE refused: %s", error)
                        self.session_handler.record_error("offer")
                        transaction.respond(_refusal(request, error), until_acknowledged=True)
                        return
                    if invite.cancelled:
                        await call.media.close()
                        return
                    invite.call = call
                    self._calls[call] = self._spawn(self._run(call, admitted, slot.hand_over()))
                    await call.settled()
        finally:
            if key is not None and invite.call is None:
                self._invites.pop(key, None)

    async def _admit(self, request: SIPRequest) -> SIPResponse | dict[str, Any]:
        """The caller's metadata when the INVITE may become a call, else the response that
        refuses it."""
        if self._closing:
            logger.info("SIP INVITE refused: the server is shutting down")
            return _busy(request)
        outcome = await authenticate(self._auth, request, allow_anonymous=self._allow_anonymous)
        if not outcome.accepted:
            self.session_handler.record_error("auth")
            if isinstance(self._auth, Challenger):
                challenge = [("WWW-Authenticate", self._auth.challenge(request))]
                return make_response(request, 401, headers=challenge)
            return make_response(request, 403)
        return outcome.metadata

    async def _create_call(self, request: SIPRequest, transaction: ServerTransaction) -> SIPCall:
        """The call an INVITE makes: its offer read, an RTP port bound (raises
        :class:`SDPError` or :class:`NoRTPPortError`)."""
        offer: AudioStream | None = None
        if request.body:
            offer = parse_sdp(request.body.decode("utf-8", "replace"))
            choose_media(offer)
        address = self._local_address(request)
        media = RTPMedia(self._host, self._rtp_ports)
        await media.open()
        contact = f"sip:{address}:{self.port};transport={transaction.peer.transport}"
        dialog = Dialog.accept(request, contact)
        settings = CallSettings((address, self.port), address, self._rtp_timeout)
        return SIPCall(request, transaction, dialog, media, offer, self._send_request, settings)

    async def _run(self, call: SIPCall, metadata: dict[str, Any], slot: SessionSlot) -> None:
        request = self._session_request(call, metadata)
        try:
            await self.run_admitted_session(call, request, slot, metadata)
        except Exception:
            logger.exception("SIP call %s: the session failed", call.dialog.call_id)
        finally:
            self._record_quality(call)
            self._calls.pop(call, None)
            key = transaction_key(call.invite)
            if key is not None:
                self._invites.pop(key, None)

    def _record_quality(self, call: SIPCall) -> None:
        """A call that carried audio: its loss and jitter both ways, into the metrics."""
        quality = call.media.rtcp.quality()
        if not (quality.sent or quality.received):
            return
        record = self.session_handler.record_line_quality
        record(call.kind, "from_caller", quality.lost_ratio, quality.jitter_ms / 1000)
        if quality.peer_lost_ratio is not None and quality.peer_jitter_ms is not None:
            record(call.kind, "to_caller", quality.peer_lost_ratio, quality.peer_jitter_ms / 1000)

    def _session_request(self, call: SIPCall, metadata: dict[str, Any]) -> SessionRequest:
        """The room and the caller of a call: the one place a call's room is decided.
        Recorded wherever the server records calls (a phone caller cannot ask)."""
        invite = call.invite
        room = invite.headers.get(self._room_header)
        if not room and self._uri_rooms:
            with contextlib.suppress(ValueError):
                room = SIPURI.parse(invite.uri).user
        caller = metadata.get("subject") or call.dialog.remote.uri.user or "caller"
        details = {**metadata, "sip_call_id": call.dialog.call_id}
        return SessionRequest(details, room or None, str(caller), record=True)

    def _local_address(self, request: SIPRequest) -> str:
        if self._public_address:
            return self._public_address
        if not ipaddress.ip_address(self._host).is_unspecified:
            return self._host
        with contextlib.suppress(ValueError):
            host = SIPURI.parse(request.uri).host
            ipaddress.ip_address(host)
            return host
        return "127.0.0.1"

    # ---- what voicegate sends -----------------------------------------------------------

    async def _send_request(self, call: SIPCall, request: SIPRequest) -> SIPResponse | None:
        """Send an in-dialog request (BYE) and wait for its final response (``None``: none)."""
        peer = call.peer
        if not peer.open and peer.transport == "tcp":
            target = call.dialog.remote_target
            try:
                peer = await self._listeners.connect((target.host, target.port or 5060))
            except OSError as error:
                logger.info("SIP call %s: cannot reach the caller: %s", call.dialog.call_id, error)
                return None
        branch = Via.parse(request.headers.values("Via")[0]).branch
        answered = self._requests[branch] = asyncio.get_running_loop().create_future()
        resend = Retransmission(peer, serialize(request))
        try:
            return await asyncio.wait_for(answered, TRANSACTION_LIFETIME)
        except TimeoutError:
            return None
        finally:
            resend.stop()
            self._requests.pop(branch, None)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _refusal(request: SIPRequest, error: SDPError | NoRTPPortError) -> SIPResponse:
    """400 for a malformed offer, 488 for one without a usable codec, 503 without a port."""
    if isinstance(error, NoRTPPortError):
        return _busy(request)
    return make_response(request, 400 if error.malformed else 488)


def _busy(request: SIPRequest) -> SIPResponse:
    """503 with ``Retry-After``: no call now (no slot, no port, shutting down)."""
    return make_response(request, 503, headers=[("Retry-After", str(RETRY_AFTER_S))])


def _to_tag(request: SIPRequest) -> str:
    try:
        return NameAddress.parse(request.headers.get("To") or "").tag
    except ValueError:
        return ""

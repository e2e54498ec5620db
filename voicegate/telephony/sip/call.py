"""One SIP call as a voice transport: its dialog (answer, ACK, BYE both ways, CANCEL, hold,
INFO) and its audio over RTP."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from voicegate.audio.frame import AudioFrame
from voicegate.telephony.dtmf import INFO_TYPES, parse_info
from voicegate.telephony.media import RTPMedia
from voicegate.telephony.sdp import (
    CLOCK_RATE,
    AudioStream,
    MediaChoice,
    SDPError,
    answer_direction,
    choose_media,
    offered_choices,
    parse_sdp,
    write_sdp,
)
from voicegate.telephony.sip.dialog import ALLOWED_METHODS, Dialog, make_response
from voicegate.telephony.sip.message import SIPRequest, SIPResponse, serialize
from voicegate.telephony.sip.transactions import Retransmission, ServerTransaction
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.notices import Notice, SessionError
from voicegate.voice.protocol import CloseCode
from voicegate.voice.transport import VoiceTransport

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5
"""What a caller refused for lack of room is told to wait (Retry-After)."""
REFUSALS: dict[int, int] = {
    CloseCode.TRY_AGAIN_LATER: 503,
    CloseCode.GOING_AWAY: 503,
    CloseCode.ROOM_NOT_FOUND: 404,
    CloseCode.UNAUTHORIZED: 403,
    CloseCode.ROOM_FORBIDDEN: 403,
}
"""The final response to an INVITE whose session closed before it opened, by close code
(anything else: 500)."""


@dataclass(frozen=True, slots=True)
class CallSettings:
    """Where voicegate's side of calls is: its SIP address (for Via) and media address (for
    SDP), and how long a call may go without RTP."""

    sip_address: tuple[str, int]
    media_address: str
    rtp_timeout: float


class CallState(enum.Enum):
    """Where a call stands."""

    OFFERED = "offered"  # INVITE received, no final response yet
    ANSWERED = "answered"  # 200 OK sent, waiting for the ACK
    CONFIRMED = "confirmed"
    ENDED = "ended"


class SIPCall(VoiceTransport):
    """A call from its INVITE to its BYE, and the voice transport of its session.

    The INVITE is answered (200 OK with the SDP answer, or voicegate's offer when the INVITE
    had none) when the session opens; a session refused before that gets the matching error
    (503 with Retry-After when the gateway is full). The caller's BYE or CANCEL ends the
    session; the session's end sends BYE. ``rtp_timeout`` seconds without RTP while the
    caller should be sending hangs up. ``send_request`` sends an in-dialog request (BYE) and
    resolves to its final response (``None`` if none came).
    """

    kind = "sip"

    def __init__(
        self,
        invite: SIPRequest,
        transaction: ServerTransaction,
        dialog: Dialog,
        media: RTPMedia,
        offer: AudioStream | None,
        send_request: Callable[[SIPCall, SIPRequest], Awaitable[SIPResponse | None]],
        settings: CallSettings,
    ) -> None:
        self.invite = invite
        self.peer = transaction.peer
        self.dialog = dialog
        self.media = media
        self.state = CallState.OFFERED
        self._transaction = transaction
        self._offer = offer
        self._choice: MediaChoice | None = choose_media(offer) if offer is not None else None
        self._send_request = send_request
        self._settings = settings
        self._sdp_version = 0
        self._answering: tuple[int, Retransmission] | None = None  # (CSeq, its 200 OK)
        self._settled = asyncio.Event()
        self._watchdog: asyncio.Task[None] | None = None
        self.hung_up_by: str | None = None  # "caller" or "voicegate", once it ended
        media.on_key = self._press

    # ---- the voice transport ---------------------------------------------------------

    @property
    def input_rate(self) -> int:
        """8 kHz: G.711."""
        return CLOCK_RATE

    @property
    def input_channels(self) -> int:
        """Mono."""
        return 1

    @property
    def output_rate(self) -> int:
        """8 kHz: answers are spoken at the phone line's rate."""
        return CLOCK_RATE

    async def opened(self, session_id: str, room_id: str) -> None:
        """The session is up: answer the INVITE (unless it was cancelled meanwhile)."""
        if self.state is not CallState.OFFERED:
            return
        self._log(logging.INFO, "answered: session %s", session_id)
        self.state = CallState.ANSWERED
        self._settled.set()
        if self._offer is not None and self._choice is not None:
            self.media.configure(self._offer, self._choice)
        self._answer(self.invite, self._transaction)
        self._watchdog = asyncio.create_task(self._watch(), name=f"sip-watch-{session_id}")

    async def settled(self) -> None:
        """Return once the INVITE is answered, refused or cancelled."""
        await self._settled.wait()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """The caller's audio until the call ends."""
        async for frame in self.media.frames():
            yield frame

    async def play(self, frame: AudioFrame) -> None:
        """Queue answer audio for RTP."""
        self.media.output.push(frame)

    def flush(self) -> None:
        """Drop the queued answer audio (barge-in)."""
        self.media.output.flush()

    async def wait_played(self) -> None:
        """Wait until the queued answer audio has been sent and its time has passed."""
        await self.media.output.wait_played()

    async def notify(self, notice: Notice) -> None:
        """A phone has no screen: only errors are logged."""
        if isinstance(notice, SessionError):
            self._log(logging.WARNING, "%s", notice.message)

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """End the call: an INVITE not yet answered is refused, an answered call hung up."""
        if self.state is CallState.OFFERED:
            status = REFUSALS.get(code, 500)
            retry = [("Retry-After", str(RETRY_AFTER_S))] if status == 503 else []
            self._log(logging.INFO, "refused with %d (%s)", status, reason)
            refusal = make_response(
                self.invite, status, to_tag=self.dialog.local_tag, headers=retry
            )
            self._transaction.respond(refusal, until_acknowledged=True)
            self._end("voicegate")
        elif self.state is not CallState.ENDED:
            await self._hang_up()
        await self._stop()

    # ---- requests from the caller, routed here by the server ----------------------------

    def acknowledged(self, ack: SIPRequest) -> None:
        """The ACK of a 2xx: the call (or its re-INVITE) is confirmed."""
        cseq = int((ack.headers.get("CSeq") or "0").split()[0])
        if self._answering is None or self._answering[0] != cseq:
            return
        self._answering[1].stop()
        self._answering = None
        if ack.body and self._choice is None:  # our offer's answer (an INVITE without SDP)
            try:
                self._use_offer(parse_sdp(ack.body.decode("utf-8", "replace")))
            except SDPError as error:
                self._log(logging.WARNING, "the ACK's SDP is unusable: %s", error)
                asyncio.get_running_loop().create_task(self._hang_up())
                return
        if self.state is CallState.ANSWERED:
            self.state = CallState.CONFIRMED

    def cancelled(self) -> bool:
        """CANCEL: refuse the INVITE with 487 if it is not answered yet; True if it was not."""
        if self.state is not CallState.OFFERED:
            return False
        terminated = make_response(self.invite, 487, to_tag=self.dialog.local_tag)
        self._transaction.respond(terminated, until_acknowledged=True)
        self._end("caller")
        return True

    def request(self, request: SIPRequest, transaction: ServerTransaction) -> None:
        """Answer an in-dialog request other than ACK and CANCEL."""
        method = request.method
        if method == "INVITE":
            self._reinvite(request, transaction)
            return
        if method == "BYE":
            self._end("caller")
            response = make_response(request, 200)
        elif method == "INFO":
            response = self._info(request)
        elif method == "OPTIONS":
            response = make_response(request, 200, headers=[("Allow", ALLOWED_METHODS)])
        else:
            response = make_response(request, 405, headers=[("Allow", ALLOWED_METHODS)])
        transaction.respond(response)

    # ---- inside -------------------------------------------------------------------------

    def _reinvite(self, request: SIPRequest, transaction: ServerTransaction) -> None:
        """A re-INVITE: a new offer (hold, resume) or, without SDP, a request for ours."""
        if self.state is not CallState.CONFIRMED:  # RFC 3261 14.2: the last one is not done
            busy = make_response(request, 500, headers=[("Retry-After", "1")])
            transaction.respond(busy, until_acknowledged=True)
            return
        if request.body:
            try:
                self._use_offer(parse_sdp(request.body.decode("utf-8", "replace")))
            except SDPError as error:
                refused = make_response(request, 400 if error.malformed else 488)
                transaction.respond(refused, until_acknowledged=True)
                return
        self.dialog.remote_cseq = int((request.headers.get("CSeq") or "0").split()[0])
        self._answer(request, transaction)

    def _use_offer(self, offer: AudioStream) -> None:
        choice = choose_media(offer)
        if self._choice is not None and choice.codec is not self._choice.codec:
            raise SDPError("the codec may not change during a call", malformed=False)
        self._offer, self._choice = offer, choice
        self.media.configure(offer, choice)
        self._log(logging.INFO, "the caller %s", "resumes" if offer.receives else "holds the call")

    def _answer(self, request: SIPRequest, transaction: ServerTransaction) -> None:
        """Send 200 OK with voicegate's SDP, resent until its ACK (or give up and hang up)."""
        self._sdp_version += 1
        direction = answer_direction(self._offer.direction) if self._offer else "sendrecv"
        choices = [self._choice] if self._choice is not None else offered_choices()
        sdp = write_sdp(
            self._settings.media_address,
            self.media.port,
            choices,
            session_id=id(self) & 0xFFFFFFFF,
            version=self._sdp_version,
            direction=direction,
            rtcp_mux=self._offer.rtcp_mux if self._offer else True,
        )
        ok = make_response(
            request,
            200,
            to_tag=self.dialog.local_tag,
            headers=[("Contact", f"<{self.dialog.contact}>"), ("Allow", ALLOWED_METHODS)],
            body=sdp.encode(),
        )
        cseq = int((request.headers.get("CSeq") or "0").split()[0])
        if self._answering is not None:
            self._answering[1].stop()
        self._answering = (cseq, Retransmission(self.peer, serialize(ok), self._no_ack))
        transaction.remember(ok)

    def _info(self, request: SIPRequest) -> SIPResponse:
        content_type = request.headers.get("Content-Type") or ""
        try:
            key = parse_info(content_type, request.body)
        except ValueError as error:
            self._log(logging.INFO, "INFO without a key: %s", error)
            return make_response(request, 415, headers=[("Accept", ", ".join(INFO_TYPES))])
        self._press(key)
        return make_response(request, 200)

    def _press(self, key: DTMFDigit) -> None:
        if self.dtmf_handler is not None:
            self.dtmf_handler(key)

    def _no_ack(self) -> None:
        self._log(logging.WARNING, "no ACK for the 200 OK; hanging up")
        asyncio.get_running_loop().create_task(self._hang_up())

    async def _watch(self) -> None:
        """Hang up a call whose caller stopped sending RTP while it should be sending."""
        loop = asyncio.get_running_loop()
        while self.state is not CallState.ENDED:
            await asyncio.sleep(min(1.0, self._settings.rtp_timeout / 4))
            silent = loop.time() - self.media.last_heard
            if self.media.expects_audio and silent > self._settings.rtp_timeout:
                self._log(logging.INFO, "no RTP for %.1f s; hanging up", silent)
                await self._hang_up()

    async def _hang_up(self) -> None:
        if self.state is CallState.ENDED:
            return
        self._end("voicegate")
        bye = self.dialog.request("BYE", self.peer.transport, *self._settings.sip_address)
        response = await self._send_request(self, bye)
        status = "no answer" if response is None else response.status
        self._log(logging.INFO, "BYE answered %s", status)

    def _end(self, by: str) -> None:
        if self.state is CallState.ENDED:
            return
        self.state = CallState.ENDED
        self._settled.set()
        self.hung_up_by = by
        if self._answering is not None:
            self._answering[1].stop()
            self._answering = None
        self.media.end()

    def _log(self, level: int, message: str, *args: object) -> None:
        logger.log(level, "SIP call %s: " + message, self.dialog.call_id, *args)

    async def _stop(self) -> None:
        if self._watchdog is not None and self._watchdog is not asyncio.current_task():
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)
        await self.media.close()
        self._log(logging.INFO, "ended: %s", self.media.rtcp.quality().summary())

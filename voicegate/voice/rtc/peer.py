"""Answering a client's SDP offer: validation, a host-candidate peer, bounded ICE gathering."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription, sdp
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError

from voicegate.errors import RoomKitError
from voicegate.voice.rtc.ice import create_peer_connection

DEFAULT_GATHERING_TIMEOUT = 5.0


class InvalidOfferError(RoomKitError):
    """The client's SDP offer cannot be answered; the message is fit for a 400 response."""


class IceGatheringTimeoutError(RoomKitError):
    """Gathering local ICE candidates did not finish in time."""


@dataclass(slots=True, frozen=True)
class AnsweredPeer:
    """A peer connection that has answered an offer.

    ``answer_sdp`` already lists every local candidate (no trickle ICE); ``inbound_audio``
    is the client's microphone track, to read with :func:`~voicegate.voice.rtc.read_audio`.
    """

    connection: RTCPeerConnection
    answer_sdp: str
    inbound_audio: MediaStreamTrack


def parse_offer(offer_sdp: str, offer_type: str = "offer") -> sdp.SessionDescription:
    """Parse and check an offer: well-formed, with one send-and-receive audio section.

    Raises :class:`InvalidOfferError` naming what is wrong.
    """
    if offer_type != "offer":
        raise InvalidOfferError(f"unsupported SDP type {offer_type!r}: expected 'offer'")
    if not isinstance(offer_sdp, str) or not offer_sdp.lstrip().startswith("v=0"):
        raise InvalidOfferError("malformed SDP offer: it must start with 'v=0'")
    try:
        description = sdp.SessionDescription.parse(offer_sdp.strip() + "\r\n")
    except (ValueError, AssertionError, IndexError, KeyError) as exc:
        raise InvalidOfferError("malformed SDP offer: a line could not be parsed") from exc
    audio = [media for media in description.media if media.kind == "audio"]
    if not audio:
        raise InvalidOfferError("the SDP offer has no audio section")
    if len(audio) > 1:
        raise InvalidOfferError(f"the SDP offer has {len(audio)} audio sections; expected one")
    direction = audio[0].direction or "sendrecv"
    if direction != "sendrecv":
        raise InvalidOfferError(f"the offer's audio must be 'sendrecv', got {direction!r}")
    ice = audio[0].ice
    if ice is None or not ice.usernameFragment or not ice.password:
        raise InvalidOfferError("the SDP offer has no ICE username fragment or password")
    if audio[0].dtls is None or not audio[0].dtls.fingerprints:
        raise InvalidOfferError("the SDP offer has no DTLS fingerprint")
    return description


async def answer_offer(
    offer_sdp: str,
    outbound_audio: MediaStreamTrack,
    *,
    offer_type: str = "offer",
    gathering_timeout: float = DEFAULT_GATHERING_TIMEOUT,
) -> AnsweredPeer:
    """Answer ``offer_sdp`` with a new peer that sends ``outbound_audio`` and receives audio.

    Raises :class:`InvalidOfferError` for an offer that cannot be answered and
    :class:`IceGatheringTimeoutError` when candidates take longer than ``gathering_timeout``
    seconds; the peer connection is closed in both cases.
    """
    parse_offer(offer_sdp, offer_type)
    connection = create_peer_connection()
    try:
        return await _answer(connection, offer_sdp, outbound_audio, gathering_timeout)
    except BaseException:
        await connection.close()
        raise


async def _answer(
    connection: RTCPeerConnection,
    offer_sdp: str,
    outbound_audio: MediaStreamTrack,
    gathering_timeout: float,
) -> AnsweredPeer:
    try:
        await connection.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    except OperationError as exc:
        raise InvalidOfferError("the SDP offer has no audio codec this server supports") from exc
    except (ValueError, InvalidAccessError, InvalidStateError) as exc:
        raise InvalidOfferError(f"the SDP offer was rejected: {exc}") from exc
    inbound_audio = next(
        t for t in connection.getTransceivers() if t.kind == "audio"
    ).receiver.track
    connection.addTrack(outbound_audio)
    answer = await connection.createAnswer()
    try:
        async with asyncio.timeout(gathering_timeout):
            await connection.setLocalDescription(answer)
    except TimeoutError as exc:
        raise IceGatheringTimeoutError(
            f"ICE candidate gathering took longer than {gathering_timeout} s"
        ) from exc
    return AnsweredPeer(
        connection=connection,
        answer_sdp=connection.localDescription.sdp,
        inbound_audio=inbound_audio,
    )

"""Answering a client's SDP offer: a host-candidate peer, bounded ICE gathering."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import OperationError

from voicegate.errors import RoomKitError
from voicegate.voice.rtc.ice import create_peer_connection
from voicegate.voice.rtc.inbound import decode_on_arrival
from voicegate.voice.rtc.offer import InvalidOfferError, parse_offer

logger = logging.getLogger(__name__)

DEFAULT_GATHERING_TIMEOUT = 5.0


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


async def answer_offer(
    offer_sdp: str,
    outbound_audio: MediaStreamTrack,
    *,
    offer_type: str = "offer",
    gathering_timeout: float = DEFAULT_GATHERING_TIMEOUT,
) -> AnsweredPeer:
    """Answer ``offer_sdp`` with a new peer that sends ``outbound_audio`` and receives audio.

    Raises :class:`InvalidOfferError` for an offer that cannot be answered (checked by
    :func:`~voicegate.voice.rtc.offer.parse_offer` first; whatever aiortc still refuses
    counts as the offer's fault too) and :class:`IceGatheringTimeoutError` when candidates
    take longer than ``gathering_timeout`` seconds; the peer connection is closed in both
    cases, and a failure to close it is logged, never raised over the first error.
    """
    parse_offer(offer_sdp, offer_type)
    connection = create_peer_connection()
    try:
        return await _answer(connection, offer_sdp, outbound_audio, gathering_timeout)
    except BaseException:
        await _close_quietly(connection)
        raise


async def _close_quietly(connection: RTCPeerConnection) -> None:
    """Close a half-set-up peer; aiortc may fail to, on the state the bad offer left."""
    try:
        await connection.close()
    except Exception as exc:
        logger.info("closing the refused offer's peer failed: %s: %s", type(exc).__name__, exc)


async def _answer(
    connection: RTCPeerConnection,
    offer_sdp: str,
    outbound_audio: MediaStreamTrack,
    gathering_timeout: float,
) -> AnsweredPeer:
    try:
        await connection.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        receiver = next(t for t in connection.getTransceivers() if t.kind == "audio").receiver
        decode_on_arrival(receiver)
        inbound_audio = receiver.track
        connection.addTrack(outbound_audio)
        answer = await connection.createAnswer()
    except OperationError as exc:
        raise InvalidOfferError("the SDP offer has no audio codec this server supports") from exc
    except Exception as exc:  # aiortc's own checks, or its failure on what they let through
        logger.info("aiortc refused an offer: %s: %s", type(exc).__name__, exc)
        raise InvalidOfferError("the SDP offer was rejected: it could not be answered") from exc
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

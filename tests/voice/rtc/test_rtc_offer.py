"""Answering offers: clear errors for bad offers, loopback host candidates, bounded gathering."""

from __future__ import annotations

import logging
import re

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from tests.voice.rtc.mutations import mutated_offers
from tests.voice.rtc.peers import ToneTrack, client_offer, offer_sdp
from voicegate.errors import RoomKitError
from voicegate.voice.rtc import (
    IceGatheringTimeoutError,
    InvalidOfferError,
    PacedAudioTrack,
    answer_offer,
    create_peer_connection,
)


async def test_answer_offers_loopback_host_candidate_and_sends_and_receives_audio() -> None:
    answered = await answer_offer(await client_offer(), PacedAudioTrack())
    try:
        assert LOOPBACK_CANDIDATE.search(answered.answer_sdp)
        assert "srflx" not in answered.answer_sdp
        assert "relay" not in answered.answer_sdp
        assert "a=sendrecv" in answered.answer_sdp
        assert "opus/48000/2" in answered.answer_sdp
        assert answered.inbound_audio.kind == "audio"
    finally:
        await answered.connection.close()


LOOPBACK_CANDIDATE = re.compile(r"a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host")


async def test_only_voicegate_peers_offer_the_loopback_candidate() -> None:
    """Other aiortc peers in the process gather as aioice does, also after voicegate's did."""
    ours = create_peer_connection()
    theirs = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        for peer in (ours, theirs):
            peer.addTrack(ToneTrack())
        assert LOOPBACK_CANDIDATE.search(await offer_sdp(ours))
        assert not LOOPBACK_CANDIDATE.search(await offer_sdp(theirs))
    finally:
        await ours.close()
        await theirs.close()


@pytest.mark.parametrize(
    ("sdp", "message"),
    [
        ("", "must start with 'v=0'"),
        ("hello, I am not SDP", "must start with 'v=0'"),
        ("v=0\r\nm=audio x\r\n", "could not be parsed"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", "no audio section"),
    ],
)
async def test_malformed_offers_are_rejected_with_a_clear_message(sdp: str, message: str) -> None:
    with pytest.raises(InvalidOfferError, match=message) as caught:
        await answer_offer(sdp, PacedAudioTrack())
    assert isinstance(caught.value, RoomKitError)


async def test_an_offer_without_audio_is_rejected() -> None:
    client = create_peer_connection()
    client.createDataChannel("chat")
    try:
        sdp = await offer_sdp(client)
    finally:
        await client.close()
    assert "m=application" in sdp
    with pytest.raises(InvalidOfferError, match="no audio section"):
        await answer_offer(sdp, PacedAudioTrack())


async def test_an_offer_that_does_not_send_audio_is_rejected() -> None:
    with pytest.raises(InvalidOfferError, match="must be 'sendrecv', got 'recvonly'"):
        await answer_offer(await client_offer("recvonly"), PacedAudioTrack())


async def test_an_answer_is_not_an_offer() -> None:
    with pytest.raises(InvalidOfferError, match="unsupported SDP type 'answer'"):
        await answer_offer(await client_offer(), PacedAudioTrack(), offer_type="answer")


async def test_an_offer_without_a_supported_codec_is_rejected() -> None:
    sdp = await client_offer()
    only_unknown = re.sub(r"a=rtpmap:\d+ \S+", "a=rtpmap:96 x-unknown/48000", sdp)
    with pytest.raises(InvalidOfferError, match="no audio codec this server supports"):
        await answer_offer(only_unknown, PacedAudioTrack())


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"a=ice-pwd:\S+\r\n", "ICE username fragment or password"),
        (r"a=fingerprint:\S+ \S+\r\n", "no DTLS fingerprint"),
    ],
)
async def test_an_offer_without_ice_or_dtls_credentials_is_rejected(
    pattern: str, message: str
) -> None:
    stripped = re.sub(pattern, "", await client_offer())
    with pytest.raises(InvalidOfferError, match=message):
        await answer_offer(stripped, PacedAudioTrack())


async def test_gathering_past_the_timeout_fails_clearly() -> None:
    with pytest.raises(IceGatheringTimeoutError, match="longer than 0 s"):
        await answer_offer(await client_offer(), PacedAudioTrack(), gathering_timeout=0)


FINGERPRINT = r"a=fingerprint:sha-256 [0-9A-F:]+"


@pytest.mark.parametrize(
    ("pattern", "replacement", "message"),
    [
        (FINGERPRINT, "a=fingerprint:sha-256 garbage", "malformed DTLS fingerprint"),
        (FINGERPRINT, "a=fingerprint:sha-256 " + ":".join(["AB"] * 31), "32 hexadecimal bytes"),
        (FINGERPRINT, "a=fingerprint:sha-256 " + ":".join(["ZZ"] * 32), "malformed DTLS"),
        (FINGERPRINT, "a=fingerprint:md5 " + ":".join(["AB"] * 16), "algorithm 'md5'"),
        (r"a=setup:\S+\r\n", "", "no DTLS role"),
        (r"a=sendrecv\r\n", "", "must be 'sendrecv', got none"),
        (r"a=sendrecv", "a=sHndrecv", "must be 'sendrecv', got none"),
        (r"a=rtcp-mux\r\n", "", "a=rtcp-mux"),
        (r"a=msid:(\S+) \S+", r"a=msid:\1 ", "malformed a=msid"),
        (r"a=ice-ufrag:\S+", "a=ice-ufrag:é!é!", "malformed ICE username fragment"),
        (r"a=ice-pwd:\S+", "a=ice-pwd:short", "malformed ICE password"),
        (r"a=mid:0", "a=mid::::", "BUNDLE group names a section that does not exist: 0"),
        (r"a=mid:1", "a=mid:0", "its own a=mid"),
        (r"m=application \d+ \S+", "m=application 9 UDP/TLS/RTP/SAVPF", "not SCTP over DTLS"),
        (r"m=application .*", "m=video 9 UDP/TLS/RTP/SAVPF 96", "a 'video' section"),
    ],
)
async def test_every_section_of_an_offer_is_checked_before_aiortc_sees_it(
    pattern: str, replacement: str, message: str
) -> None:
    offer = await client_offer(data_channel=True)
    broken = re.sub(pattern, replacement, offer)
    assert broken != offer
    with pytest.raises(InvalidOfferError, match=message):
        await answer_offer(broken, PacedAudioTrack())


async def test_mutated_offers_are_answered_or_refused_with_invalid_offer_error() -> None:
    """150 mutations of a real offer: each is answered or refused, never another error."""
    outcomes = {"answered": 0, "refused": 0}
    for offer in mutated_offers(await client_offer(data_channel=True), 150, seed=9):
        try:
            answered = await answer_offer(offer, PacedAudioTrack())
        except InvalidOfferError:
            outcomes["refused"] += 1
        else:
            await answered.connection.close()
            outcomes["answered"] += 1
    assert outcomes["answered"] > 0
    assert outcomes["refused"] > 0


async def test_what_aiortc_still_refuses_is_an_invalid_offer_and_its_cleanup_never_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the checks, this offer makes aiortc fail and then fail again on close."""
    offer = re.sub(r"a=mid:0", "a=mid::::", await client_offer(data_channel=True))
    monkeypatch.setattr("voicegate.voice.rtc.peer.parse_offer", lambda sdp, kind: None)
    with (
        caplog.at_level(logging.INFO, logger="voicegate.voice.rtc.peer"),
        pytest.raises(InvalidOfferError, match="could not be answered"),
    ):
        await answer_offer(offer, PacedAudioTrack())
    logged = [r.getMessage() for r in caplog.records if r.name == "voicegate.voice.rtc.peer"]
    assert any(m.startswith("aiortc refused an offer: AttributeError") for m in logged)
    assert any(m.startswith("closing the refused offer's peer failed") for m in logged)

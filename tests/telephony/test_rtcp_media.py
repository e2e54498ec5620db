"""A call's RTCP on real sockets: a raw UDP peer on loopback sends RTP with losses and its
own reports; voicegate's reports arrive at the port its SDP names (or multiplexed on the RTP
port), say what was lost, and end with a BYE."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from tests.telephony.conftest import wait_for
from tests.telephony.peers import free_port
from voicegate.audio.g711 import ULAW
from voicegate.telephony.media import NoRTPPortError, RTPMedia
from voicegate.telephony.rtcp import (
    MUX_TYPES,
    Goodbye,
    ReceiverReport,
    ReportBlock,
    SenderReport,
    SourceDescription,
    build_compound,
    parse_compound,
)
from voicegate.telephony.rtp import RTPPacket
from voicegate.telephony.sdp import AudioStream, MediaChoice, SDPError, parse_sdp, write_sdp

PEER_SSRC = 0x5EE5
LOST = (5, 6, 7)


class _Inbox(asyncio.DatagramProtocol):
    """A raw UDP socket of the peer: what it receives, queued."""

    def __init__(self) -> None:
        self.datagrams: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.datagrams.put_nowait(data)

    @property
    def port(self) -> int:
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", port))

    async def next(self, wanted: Callable[[bytes], bool], seconds: float = 20.0) -> bytes:
        async with asyncio.timeout(seconds):
            while not wanted(data := await self.datagrams.get()):
                pass
        return data


async def _socket() -> _Inbox:
    return await _socket_at(0)


async def _socket_at(port: int) -> _Inbox:
    transport, inbox = await asyncio.get_running_loop().create_datagram_endpoint(
        _Inbox, local_addr=("127.0.0.1", port)
    )
    inbox.transport = transport
    return inbox


@asynccontextmanager
async def _call(mux: bool) -> AsyncIterator[tuple[RTPMedia, _Inbox, _Inbox]]:
    """voicegate's media of a call with a raw peer: its RTP and RTCP sockets."""
    rtp, rtcp = await _socket(), await _socket()
    low = free_port()
    media = RTPMedia("127.0.0.1", (low, low + 40))
    await media.open()
    offer = AudioStream("127.0.0.1", rtp.port, (0,), rtcp_port=rtcp.port, rtcp_mux=mux)
    media.configure(offer, MediaChoice(ULAW, 0, None))
    try:
        yield media, rtp, rtcp
    finally:
        await media.close()
        for inbox in (rtp, rtcp):
            assert inbox.transport is not None
            inbox.transport.close()


def _is_rtcp(data: bytes) -> bool:
    return len(data) > 1 and data[1] in MUX_TYPES


async def _exchange(media: RTPMedia, rtp: _Inbox, control: _Inbox, control_port: int) -> None:
    """The peer sends 30 packets but :data:`LOST`, then its report on voicegate's audio."""
    ours = RTPPacket.parse(await rtp.next(lambda data: not _is_rtcp(data)))
    for sequence in range(30):
        if sequence not in LOST:
            rtp.send(
                RTPPacket(0, sequence, 160 * sequence, PEER_SSRC, bytes(160)).to_bytes(), media.port
            )
    block = ReportBlock(ours.ssrc, 25, 7, ours.sequence, 80)
    control.send(b"\x80\xc9\x00\x01garbage!", control_port)  # an RR too short: invalid
    control.send(build_compound([ReceiverReport(PEER_SSRC, (block,))]), control_port)


@pytest.mark.parametrize("mux", [False, True], ids=["rtcp-port", "rtcp-mux"])
async def test_reports_go_both_ways_and_the_call_ends_with_bye(mux: bool) -> None:
    async with _call(mux) as (media, rtp, rtcp):
        control = rtp if mux else rtcp
        await _exchange(media, rtp, control, media.port if mux else media.port + 1)
        await wait_for(lambda: media.rtcp.quality().reports == 1)
        report = parse_compound(await control.next(_is_rtcp))
        await media.close()  # the call ends
        goodbye = parse_compound(await control.next(_is_rtcp))
    first, description = report[:2]
    assert isinstance(first, SenderReport)  # voicegate sends audio (silence) all along
    assert first.ssrc == media.rtcp.ssrc
    assert first.packets > 0
    (block,) = first.reports
    assert (block.ssrc, block.cumulative_lost, block.highest_sequence) == (PEER_SSRC, len(LOST), 29)
    assert description == SourceDescription(((media.rtcp.ssrc, media.rtcp.cname),))
    assert goodbye[-1] == Goodbye((media.rtcp.ssrc,))
    quality = media.rtcp.quality()
    assert (quality.peer_lost, quality.peer_fraction_lost) == (7, 25 / 256)
    assert quality.peer_jitter_ms == pytest.approx(10.0)  # 80 units at 8 kHz
    assert (quality.lost, quality.invalid) == (len(LOST), 1)


async def test_rtcp_from_another_address_is_ignored() -> None:
    async with _call(mux=False) as (media, _, _):
        stranger = await _socket()
        stranger.send(build_compound([ReceiverReport(PEER_SSRC)]), media.port + 1)
        await wait_for(lambda: media.ignored == 1)
        assert media.rtcp.quality().reports == 0
        assert stranger.transport is not None
        stranger.transport.close()


def test_the_answer_names_its_rtcp_port_and_echoes_rtcp_mux() -> None:
    offer = parse_sdp(
        "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:4003\r\na=rtcp-mux\r\n"
    )
    assert (offer.rtcp_port, offer.rtcp_mux, offer.rtcp_destination) == (4003, True, 4000)
    plain = parse_sdp("v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\n")
    assert (plain.rtcp_port, plain.rtcp_mux, plain.rtcp_destination) == (None, False, 4001)
    choice = MediaChoice(ULAW, 0, None)
    for mux in (False, True):
        answer = parse_sdp(
            write_sdp("192.0.2.1", 20000, [choice], session_id=1, version=1, rtcp_mux=mux)
        )
        assert (answer.rtcp_port, answer.rtcp_mux) == (20001, mux)


@pytest.mark.parametrize("line", ["a=rtcp:", "a=rtcp:x IN IP4 1.2.3.4", "a=rtcp:70000"])
def test_a_malformed_rtcp_attribute_is_refused(line: str) -> None:
    with pytest.raises(SDPError, match="rtcp attribute"):
        parse_sdp(f"v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0\r\n{line}\r\n")


async def test_rtp_takes_an_even_port_whose_next_one_is_free_for_rtcp() -> None:
    low = free_port() // 2 * 2
    blocker = await _socket_at(low + 1)  # RTCP's port of the only even port: taken
    with pytest.raises(NoRTPPortError):
        await RTPMedia("127.0.0.1", (low, low + 1)).open()
    assert blocker.transport is not None
    blocker.transport.close()
    await asyncio.sleep(0)  # a datagram transport closes its socket on the next loop turn
    media = RTPMedia("127.0.0.1", (low, low + 1))
    assert await media.open() == low
    await media.close()
    with pytest.raises(NoRTPPortError):  # no room for RTCP's port in the range
        await RTPMedia("127.0.0.1", (low, low)).open()

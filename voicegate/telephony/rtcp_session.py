"""One call's RTCP (RFC 3550 6), Sans-I/O: it counts the RTP sent and received, reads the
peer's compound packets, writes voicegate's reports, and says when the next one is due."""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass

from voicegate.telephony.reception import SourceStatistics
from voicegate.telephony.rtcp import (
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RTCPError,
    RTCPPacket,
    SenderReport,
    SourceDescription,
    build_compound,
    middle_bits,
    ntp_timestamp,
    parse_compound,
)
from voicegate.telephony.rtp import RTPPacket

logger = logging.getLogger(__name__)

MIN_INTERVAL_S = 5.0
"""RFC 3550 6.2's minimum report interval, which a two-party G.711 call never exceeds."""
COMPENSATION = 2.718281828 - 1.5
"""RFC 3550 6.3.1: the randomized interval is divided by e - 3/2 (timer reconsideration)."""


@dataclass(frozen=True, slots=True)
class CallQuality:
    """A call's RTP reception both ways.

    ``received``, ``lost`` and ``jitter_ms`` are voicegate's view of the peer's audio; the
    ``peer_*`` fields are what the peer last reported of voicegate's (``None``: no report
    yet), ``round_trip_ms`` from its last report that echoed one of voicegate's SRs.
    ``reports`` counts the peer's valid RTCP packets, ``invalid`` the datagrams dropped.
    """

    sent: int
    received: int
    lost: int
    jitter_ms: float
    peer_fraction_lost: float | None
    peer_lost: int | None
    peer_jitter_ms: float | None
    round_trip_ms: float | None
    reports: int
    invalid: int
    peer_left: bool

    @property
    def lost_ratio(self) -> float:
        """The share of the peer's packets that voicegate did not receive."""
        expected = self.received + self.lost
        return self.lost / expected if expected else 0.0

    @property
    def peer_lost_ratio(self) -> float | None:
        """The share of voicegate's packets the peer last reported lost in all."""
        if self.peer_lost is None:
            return None
        return min(max(self.peer_lost, 0) / self.sent, 1.0) if self.sent else 0.0

    def summary(self) -> str:
        """One line for a log."""
        peer = (
            "no report from the peer"
            if self.peer_lost is None
            else f"the peer lost {self.peer_lost} ({self.peer_fraction_lost:.1%} lately), "
            f"jitter {self.peer_jitter_ms:.1f} ms"
        )
        rtt = "" if self.round_trip_ms is None else f", round trip {self.round_trip_ms:.0f} ms"
        return (
            f"sent {self.sent} RTP packets, received {self.received}, lost {self.lost}, "
            f"jitter {self.jitter_ms:.1f} ms; {peer}{rtt}; "
            f"{self.reports} RTCP reports, {self.invalid} invalid"
        )


class RTCPSession:
    """RTCP for one RTP stream each way, at ``clock_rate``.

    Call :meth:`sent` and :meth:`received` for each RTP packet, :meth:`receive` with each
    datagram that should be RTCP, and send :meth:`report` every :meth:`interval` seconds;
    times are Unix seconds (``time.time()``).
    """

    def __init__(self, ssrc: int, clock_rate: int, cname: str | None = None) -> None:
        self.ssrc = ssrc
        self.cname = cname or f"voicegate-{secrets.token_hex(8)}"  # RFC 7022: random per call
        self._clock_rate = clock_rate
        self._source: SourceStatistics | None = None
        self._sent_packets = 0
        self._sent_octets = 0
        self._last_sent: tuple[int, float] | None = None  # (RTP timestamp, when)
        self._sent_since_report = False
        self._peer_sr: tuple[int, float] | None = None  # (middle NTP bits, when it came)
        self._peer_block: ReportBlock | None = None
        self._round_trip: float | None = None
        self.reports = 0
        self.invalid = 0
        self.peer_left = False

    def sent(self, packet: RTPPacket, now: float) -> None:
        """Count an RTP packet voicegate sent."""
        self._sent_packets += 1
        self._sent_octets += len(packet.payload)
        self._last_sent = (packet.timestamp, now)
        self._sent_since_report = True

    def received(self, packet: RTPPacket, now: float) -> None:
        """Count an RTP packet from the peer (a new SSRC starts the statistics afresh)."""
        if self._source is None or self._source.ssrc != packet.ssrc:
            self._source = SourceStatistics(packet.ssrc, packet.sequence)
        arrival = round(now * self._clock_rate) & 0xFFFFFFFF
        self._source.update(packet.sequence, packet.timestamp, arrival)

    def receive(self, data: bytes, now: float) -> list[RTCPPacket]:
        """Read a compound packet from the peer; an invalid one is counted and dropped."""
        try:
            packets = parse_compound(data)
        except RTCPError as error:
            self.invalid += 1
            logger.debug("an invalid RTCP packet: %s", error)
            return []
        self.reports += 1
        for packet in packets:
            if isinstance(packet, SenderReport):
                self._peer_sr = (middle_bits(packet.ntp_timestamp), now)
            if isinstance(packet, SenderReport | ReceiverReport):
                self._read_blocks(packet.reports, now)
            elif isinstance(packet, Goodbye) and self._source is not None:
                self.peer_left = self.peer_left or self._source.ssrc in packet.ssrcs
        return packets

    def report(self, now: float, *, goodbye: str | None = None) -> bytes:
        """voicegate's compound packet now: an SR if it sent RTP since the last report (else an
        RR), its CNAME, and a BYE when ``goodbye`` is given (its reason, may be empty)."""
        blocks = (self._block(now),) if self._source is not None else ()
        first: SenderReport | ReceiverReport
        if self._sent_since_report and self._last_sent is not None:
            timestamp, when = self._last_sent
            rtp_now = (timestamp + round((now - when) * self._clock_rate)) & 0xFFFFFFFF
            first = SenderReport(
                self.ssrc,
                ntp_timestamp(now),
                rtp_now,
                self._sent_packets & 0xFFFFFFFF,
                self._sent_octets & 0xFFFFFFFF,
                blocks,
            )
        else:
            first = ReceiverReport(self.ssrc, blocks)
        self._sent_since_report = False
        packets: list[RTCPPacket] = [first, SourceDescription(((self.ssrc, self.cname),))]
        if goodbye is not None:
            packets.append(Goodbye((self.ssrc,), goodbye))
        return build_compound(packets)

    @staticmethod
    def interval(*, first: bool = False, rng: random.Random | None = None) -> float:
        """Seconds until the next report (RFC 3550 6.3.1 with the 5 s minimum, halved before
        the first report), randomized to 0.5-1.5 of it and compensated."""
        minimum = MIN_INTERVAL_S / 2 if first else MIN_INTERVAL_S
        return minimum * (rng or random).uniform(0.5, 1.5) / COMPENSATION

    def quality(self) -> CallQuality:
        """The call's reception both ways now."""
        source, block = self._source, self._peer_block
        to_ms = 1000 / self._clock_rate
        return CallQuality(
            sent=self._sent_packets,
            received=source.received if source else 0,
            lost=max(source.lost, 0) if source else 0,
            jitter_ms=source.jitter * to_ms if source else 0.0,
            peer_fraction_lost=block.fraction_lost / 256 if block else None,
            peer_lost=block.cumulative_lost if block else None,
            peer_jitter_ms=block.jitter * to_ms if block else None,
            round_trip_ms=None if self._round_trip is None else self._round_trip * 1000,
            reports=self.reports,
            invalid=self.invalid,
            peer_left=self.peer_left,
        )

    def _block(self, now: float) -> ReportBlock:
        assert self._source is not None
        if self._peer_sr is None:
            return self._source.report()
        last_sr, when = self._peer_sr
        return self._source.report(last_sr, round((now - when) * 65536) & 0xFFFFFFFF)

    def _read_blocks(self, blocks: tuple[ReportBlock, ...], now: float) -> None:
        for block in blocks:
            if block.ssrc != self.ssrc:
                continue
            self._peer_block = block
            if block.last_sr:  # RFC 3550 6.4.1: A - LSR - DLSR, in 1/65536 s
                arrived = middle_bits(ntp_timestamp(now))
                units = (arrived - block.last_sr - block.delay_since_last_sr) & 0xFFFFFFFF
                if units < 0x80000000:
                    self._round_trip = units / 65536

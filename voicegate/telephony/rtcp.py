"""RTCP packets (RFC 3550 6), Sans-I/O: sender and receiver reports, SDES CNAME, BYE, and
compound packets checked as RFC 3550 A.2 says."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from voicegate.errors import RoomKitError

RTCP_VERSION = 2
SENDER_REPORT = 200
RECEIVER_REPORT = 201
SOURCE_DESCRIPTION = 202
GOODBYE = 203
APPLICATION = 204
FIRST_TYPES = (SENDER_REPORT, RECEIVER_REPORT, SOURCE_DESCRIPTION, GOODBYE, APPLICATION)
"""The packet types a datagram may start with (RFC 3550's own)."""
CNAME = 1
"""The SDES item that names a source (the only one voicegate reads or writes)."""
MUX_TYPES = range(192, 224)
"""The second byte of an RTCP packet sharing a port with RTP (RFC 5761 4)."""
NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900 (NTP's epoch) to 1970 (Unix's)."""

_HEADER = struct.Struct("!BBH")
_SENDER_INFO = struct.Struct("!IQIII")  # SSRC, NTP timestamp, RTP timestamp, packets, octets
_BLOCK = struct.Struct("!IIIIII")


class RTCPError(RoomKitError, ValueError):
    """A datagram that is not a valid RTCP compound packet."""


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """What a receiver reports about one source (RFC 3550 6.4.1).

    ``fraction_lost`` is out of 256 since the last report, ``cumulative_lost`` may be negative
    (duplicates), ``jitter`` is in the source's timestamp units, ``last_sr`` the middle 32 bits
    of the last SR's NTP timestamp and ``delay_since_last_sr`` in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    last_sr: int = 0
    delay_since_last_sr: int = 0

    @classmethod
    def parse(cls, data: bytes, offset: int) -> ReportBlock:
        """The block at ``offset`` of ``data``."""
        ssrc, lost, highest, jitter, last_sr, delay = _BLOCK.unpack_from(data, offset)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        return cls(ssrc, lost >> 24, cumulative, highest, jitter, last_sr, delay)

    def to_bytes(self) -> bytes:
        """The block on the wire (the cumulative loss clamped to 24 signed bits)."""
        cumulative = max(-0x800000, min(0x7FFFFF, self.cumulative_lost)) & 0xFFFFFF
        lost = (self.fraction_lost & 0xFF) << 24 | cumulative
        return _BLOCK.pack(
            self.ssrc, lost, self.highest_sequence, self.jitter, self.last_sr,
            self.delay_since_last_sr,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR: what ``ssrc`` sent (packets, payload octets) as of ``ntp_timestamp`` (64-bit NTP)
    and ``rtp_timestamp``, and its reports on the sources it receives."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packets: int
    octets: int
    reports: tuple[ReportBlock, ...] = ()

    def to_bytes(self) -> bytes:
        """The packet on the wire."""
        info = _SENDER_INFO.pack(
            self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packets, self.octets
        )
        return _packet(SENDER_REPORT, len(self.reports), info + _blocks(self.reports))


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR: ``ssrc``'s reports on the sources it receives (it sent nothing lately)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()

    def to_bytes(self) -> bytes:
        """The packet on the wire."""
        body = struct.pack("!I", self.ssrc) + _blocks(self.reports)
        return _packet(RECEIVER_REPORT, len(self.reports), body)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES: each source's CNAME, as ``(ssrc, cname)`` (other items are skipped)."""

    cnames: tuple[tuple[int, str], ...]

    def to_bytes(self) -> bytes:
        """The packet on the wire: one chunk per source, each its CNAME item."""
        body = b""
        for ssrc, cname in self.cnames:
            text = cname.encode()[:255]
            chunk = struct.pack("!IBB", ssrc, CNAME, len(text)) + text
            body += chunk + b"\x00" * (4 - len(chunk) % 4)  # the end item, then to 32 bits
        return _packet(SOURCE_DESCRIPTION, len(self.cnames), body)


@dataclass(frozen=True, slots=True)
class Goodbye:
    """BYE: the sources that leave, and why (may be empty)."""

    ssrcs: tuple[int, ...]
    reason: str = ""

    def to_bytes(self) -> bytes:
        """The packet on the wire."""
        body = b"".join(struct.pack("!I", ssrc) for ssrc in self.ssrcs)
        if self.reason:
            text = self.reason.encode()[:255]
            body += bytes([len(text)]) + text
            body += b"\x00" * (-len(body) % 4)
        return _packet(GOODBYE, len(self.ssrcs), body)


RTCPPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye


def build_compound(packets: list[RTCPPacket]) -> bytes:
    """A compound packet: ``packets`` one after the other (an SR or RR first, RFC 3550 6.1)."""
    if not packets or not isinstance(packets[0], SenderReport | ReceiverReport):
        raise RTCPError("a compound packet starts with an SR or an RR")
    return b"".join(packet.to_bytes() for packet in packets)


def parse_compound(data: bytes) -> list[RTCPPacket]:
    """The packets of a compound packet, checked as RFC 3550 A.2 says: version 2 throughout,
    no padding in the first packet, lengths adding up to the datagram, padding only in the
    last one. A.2 also wants an SR or RR first; voicegate takes any RTCP type of RFC 3550
    first (SDES, BYE, APP), as RFC 5506's reduced-size packets do and as libre-based phones
    (baresip) send their pings and BYEs. Packet types voicegate does not read (APP, XR...)
    are skipped. Raises :class:`RTCPError` for a datagram that fails any check."""
    if len(data) < _HEADER.size or len(data) % 4:
        raise RTCPError(f"{len(data)} bytes is not a whole number of 32-bit words")
    first, kind, _ = _HEADER.unpack_from(data)
    if first & 0x20 or kind not in FIRST_TYPES:
        raise RTCPError(f"a first packet of type {kind}, or padded: not RTCP")
    packets: list[RTCPPacket] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _HEADER.size:
            raise RTCPError("a truncated packet header")
        first, kind, words = _HEADER.unpack_from(data, offset)
        end = offset + 4 * (words + 1)
        if first >> 6 != RTCP_VERSION:
            raise RTCPError(f"RTCP version {first >> 6}")
        if end > len(data):
            raise RTCPError("a packet longer than the datagram")
        body_end = end
        if first & 0x20:
            if end != len(data):
                raise RTCPError("padding before the last packet")
            body_end -= data[end - 1]
            if data[end - 1] == 0 or body_end < offset + _HEADER.size:
                raise RTCPError("a padding length that does not fit its packet")
        packet = _parse_one(kind, first & 0x1F, data[offset + _HEADER.size : body_end])
        if packet is not None:
            packets.append(packet)
        offset = end
    return packets


def ntp_timestamp(unix_time: float) -> int:
    """The 64-bit NTP timestamp of ``unix_time`` (seconds since 1970)."""
    return round((unix_time + NTP_EPOCH_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def middle_bits(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp: a report block's ``last_sr``."""
    return (ntp >> 16) & 0xFFFFFFFF


def _packet(kind: int, count: int, body: bytes) -> bytes:
    if count > 31:
        raise RTCPError(f"{count} items do not fit one RTCP packet (31 at most)")
    return _HEADER.pack(RTCP_VERSION << 6 | count, kind, len(body) // 4) + body


def _blocks(reports: tuple[ReportBlock, ...]) -> bytes:
    return b"".join(block.to_bytes() for block in reports)


def _parse_one(kind: int, count: int, body: bytes) -> RTCPPacket | None:
    if kind == SENDER_REPORT:
        _need(body, _SENDER_INFO.size + count * _BLOCK.size, "SR")
        ssrc, ntp, rtp, packets, octets = _SENDER_INFO.unpack_from(body)
        blocks = _parse_blocks(body, _SENDER_INFO.size, count)
        return SenderReport(ssrc, ntp, rtp, packets, octets, blocks)
    if kind == RECEIVER_REPORT:
        _need(body, 4 + count * _BLOCK.size, "RR")
        return ReceiverReport(struct.unpack_from("!I", body)[0], _parse_blocks(body, 4, count))
    if kind == SOURCE_DESCRIPTION:
        return SourceDescription(_parse_chunks(body, count))
    if kind == GOODBYE:
        _need(body, 4 * count, "BYE")
        ssrcs = struct.unpack_from(f"!{count}I", body)
        reason = ""
        if len(body) > 4 * count:
            size = body[4 * count]
            _need(body, 4 * count + 1 + size, "BYE reason")
            reason = body[4 * count + 1 : 4 * count + 1 + size].decode("utf-8", "replace")
        return Goodbye(tuple(ssrcs), reason)
    return None


def _parse_blocks(body: bytes, offset: int, count: int) -> tuple[ReportBlock, ...]:
    return tuple(ReportBlock.parse(body, offset + i * _BLOCK.size) for i in range(count))


def _parse_chunks(body: bytes, count: int) -> tuple[tuple[int, str], ...]:
    cnames: list[tuple[int, str]] = []
    offset = 0
    for _ in range(count):
        _need(body, offset + 4, "SDES chunk")
        ssrc = struct.unpack_from("!I", body, offset)[0]
        offset += 4
        while True:
            _need(body, offset + 1, "SDES item")
            item = body[offset]
            if item == 0:  # the end of the chunk: skip to the next 32-bit boundary
                offset += 4 - offset % 4
                break
            _need(body, offset + 2, "SDES item")
            size = body[offset + 1]
            _need(body, offset + 2 + size, "SDES item")
            if item == CNAME:
                cnames.append(
                    (ssrc, body[offset + 2 : offset + 2 + size].decode("utf-8", "replace"))
                )
            offset += 2 + size
    return tuple(cnames)


def _need(body: bytes, size: int, what: str) -> None:
    if len(body) < size:
        raise RTCPError(f"a truncated {what}")

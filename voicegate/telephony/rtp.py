"""RTP (RFC 3550), Sans-I/O: packets, a sender's numbering, and a small jitter buffer."""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

from voicegate.errors import RoomKitError

RTP_VERSION = 2
HEADER = struct.Struct("!BBHII")
MAX_GAP_SAMPLES = 8000
"""The longest run of lost audio (1 s at 8 kHz) a jitter buffer fills with silence; a longer
jump in time is a pause in the sender's speech (or a new start), not loss."""


class RTPError(RoomKitError, ValueError):
    """A datagram that is not an RTP packet."""


@dataclass(frozen=True, slots=True)
class RTPPacket:
    """One RTP packet: its header's fields and payload (CSRCs, extension, padding dropped)."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    @classmethod
    def parse(cls, data: bytes) -> RTPPacket:
        """Read a packet; :class:`RTPError` when ``data`` is not one."""
        if len(data) < HEADER.size:
            raise RTPError(f"{len(data)} bytes is shorter than an RTP header")
        first, second, sequence, timestamp, ssrc = HEADER.unpack_from(data)
        if first >> 6 != RTP_VERSION:
            raise RTPError(f"RTP version {first >> 6}")
        offset = HEADER.size + 4 * (first & 0x0F)
        if first & 0x10:  # a header extension: 16-bit profile, 16-bit length in words
            if len(data) < offset + 4:
                raise RTPError("a truncated header extension")
            offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
        end = len(data)
        if first & 0x20 and end > offset:
            end -= data[-1]
        if end < offset:
            raise RTPError("a packet shorter than its header")
        return cls(second & 0x7F, sequence, timestamp, ssrc, data[offset:end], bool(second & 0x80))

    def to_bytes(self) -> bytes:
        """The packet on the wire."""
        second = (0x80 if self.marker else 0) | self.payload_type
        header = HEADER.pack(RTP_VERSION << 6, second, self.sequence, self.timestamp, self.ssrc)
        return header + self.payload


class RTPSender:
    """Numbers outgoing packets: random SSRC, sequence and timestamp starts (RFC 3550 5.1)."""

    def __init__(self) -> None:
        self.ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)

    def packet(self, payload_type: int, payload: bytes, samples: int) -> RTPPacket:
        """The next packet, carrying ``samples`` samples of media."""
        packet = RTPPacket(payload_type, self._sequence, self._timestamp, self.ssrc, payload)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + samples) & 0xFFFFFFFF
        return packet


@dataclass(frozen=True, slots=True)
class Played:
    """What a jitter buffer releases: a packet's payload, or ``samples`` of lost audio."""

    payload: bytes | None
    samples: int


def _sequence_ahead(sequence: int, reference: int) -> int:
    """How far ``sequence`` is after ``reference``, modulo 2^16, in -32768..32767."""
    return (sequence - reference + 0x8000) % 0x10000 - 0x8000


class JitterBuffer:
    """Puts one stream's packets back in order, drops duplicates and late ones, fills losses.

    Payloads are G.711 (a byte a sample). A packet that follows the last one released is
    released at once: in-order audio waits for nothing. A gap holds the packets after it
    until the missing one arrives or ``depth`` packets wait; the missing audio is then
    released as silence (from the timestamps, up to :data:`MAX_GAP_SAMPLES`) and the
    stream goes on. A new SSRC (the
    sender restarted) starts the buffer afresh.
    """

    def __init__(self, depth: int = 3) -> None:
        self.depth = depth
        self._ssrc: int | None = None
        self._next: int | None = None  # the sequence number expected next
        self._next_timestamp = 0
        self._held: dict[int, RTPPacket] = {}
        self.late = 0
        self.duplicates = 0
        self.lost = 0

    def push(self, packet: RTPPacket) -> list[Played]:
        """Take ``packet``; returns what can be played now, in order."""
        if packet.ssrc != self._ssrc:
            self._ssrc, self._next, self._held = packet.ssrc, packet.sequence, {}
            self._next_timestamp = packet.timestamp
        assert self._next is not None
        ahead = _sequence_ahead(packet.sequence, self._next)
        if ahead < 0:
            self.late += 1
            return []
        if packet.sequence in self._held:
            self.duplicates += 1
            return []
        self._held[packet.sequence] = packet
        return self._release()

    def _release(self) -> list[Played]:
        played: list[Played] = []
        while self._held:
            assert self._next is not None
            packet = self._held.pop(self._next, None)
            if packet is None:
                if len(self._held) < self.depth:
                    break
                packet = self._skip_gap()
                played.append(Played(None, self._gap_samples(packet)))
            played.append(Played(packet.payload, len(packet.payload)))
            self._next = (packet.sequence + 1) & 0xFFFF
            self._next_timestamp = (packet.timestamp + len(packet.payload)) & 0xFFFFFFFF
        return [p for p in played if p.payload is not None or p.samples > 0]

    def _skip_gap(self) -> RTPPacket:
        assert self._next is not None
        reference = self._next
        first = min(self._held, key=lambda sequence: _sequence_ahead(sequence, reference))
        self.lost += _sequence_ahead(first, reference)
        return self._held.pop(first)

    def _gap_samples(self, packet: RTPPacket) -> int:
        elapsed = (packet.timestamp - self._next_timestamp) & 0xFFFFFFFF
        return elapsed if elapsed <= MAX_GAP_SAMPLES else 0

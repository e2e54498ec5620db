"""Keys pressed on a phone as SIP carries them: RFC 4733 telephone events over RTP, and the
bodies of SIP INFO requests (``application/dtmf-relay`` and ``application/dtmf``)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from voicegate.telephony.rtp import RTPPacket
from voicegate.voice.dtmf import DTMF_DIGITS, DTMFDigit

EVENT = struct.Struct("!BBH")
INFO_TYPES = ("application/dtmf-relay", "application/dtmf")
"""The SIP INFO bodies that carry a key."""
_INFO_NAMES = {"10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D"}


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One RFC 4733 payload: the event (0-15 are the DTMF keys), whether it ended, its volume
    (-dBm0) and its duration so far in timestamp units."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes) -> TelephoneEvent:
        """Read a payload (``ValueError`` when it is shorter than 4 bytes)."""
        if len(payload) < EVENT.size:
            raise ValueError(f"a {len(payload)}-byte telephone-event payload")
        event, flags, duration = EVENT.unpack_from(payload)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def to_bytes(self) -> bytes:
        """The payload on the wire."""
        return EVENT.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


class EventReceiver:
    """Turns a stream's telephone-event packets into key presses, each reported once.

    A sender repeats every event's packets (same RTP timestamp, growing duration) and its
    end packet three times; the key is reported at its first end packet, or, if every end
    packet was lost, when the next event starts.
    """

    def __init__(self, clock_rate: int = 8000) -> None:
        self._clock_rate = clock_rate
        self._current: tuple[int, TelephoneEvent] | None = None  # (timestamp, last payload)
        self._reported: int | None = None  # the timestamp of the last event reported

    def push(self, packet: RTPPacket) -> list[DTMFDigit]:
        """The keys that ``packet`` completes (none, one, or two when an end was lost)."""
        try:
            event = TelephoneEvent.parse(packet.payload)
        except ValueError:
            return []
        pressed: list[DTMFDigit] = []
        if self._current is not None and self._current[0] != packet.timestamp:
            pressed += self._report(*self._current)  # the previous event never said it ended
        self._current = (packet.timestamp, event)
        if event.end:
            pressed += self._report(packet.timestamp, event)
        return pressed

    def _report(self, timestamp: int, event: TelephoneEvent) -> list[DTMFDigit]:
        if self._reported == timestamp or event.event >= len(DTMF_DIGITS):
            return []
        self._reported = timestamp
        duration_ms = 1000.0 * event.duration / self._clock_rate
        return [DTMFDigit(DTMF_DIGITS[event.event], duration_ms, "rfc4733")]


def parse_info(content_type: str, body: bytes) -> DTMFDigit:
    """The key of a SIP INFO body (``ValueError`` when it holds none).

    ``application/dtmf-relay`` is ``Signal=5`` and ``Duration=160`` lines (ms);
    ``application/dtmf`` is the key alone.
    """
    media_type = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8", "replace").strip()
    if media_type == "application/dtmf":
        return DTMFDigit(_INFO_NAMES.get(text, text.upper()), source="sip_info")
    if media_type != "application/dtmf-relay":
        raise ValueError(f"a {media_type or 'untyped'} body carries no key")
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        fields[name.strip().lower()] = value.strip()
    signal = fields.get("signal", "")
    try:
        duration = float(fields.get("duration", "0"))
    except ValueError:
        duration = 0.0
    return DTMFDigit(_INFO_NAMES.get(signal, signal.upper()), duration, "sip_info")

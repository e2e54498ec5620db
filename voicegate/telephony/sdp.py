"""SDP offer/answer (RFC 3264) for a phone call's audio: PCMU, PCMA and telephone-event.

:func:`parse_sdp` reads the audio stream a peer offers or answers; :func:`choose_media`
picks the first G.711 codec it lists and its telephone-event; :func:`write_sdp` writes
voicegate's own description (an offer, or the answer to the peer's).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from voicegate.audio.g711 import ALAW, ULAW, G711Codec
from voicegate.errors import RoomKitError

STATIC_PAYLOADS = {0: ULAW, 8: ALAW}
"""RFC 3551's static payload types of G.711."""
CODECS = {codec.name: codec for codec in (ULAW, ALAW)}
TELEPHONE_EVENT = "telephone-event"
DEFAULT_EVENT_PAYLOAD = 101
CLOCK_RATE = 8000
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_REVERSED = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly"}


class SDPError(RoomKitError):
    """A session description that is malformed (``acceptable``: False is 400) or that offers
    nothing voicegate can use (488)."""

    def __init__(self, message: str, *, malformed: bool = True) -> None:
        super().__init__(message)
        self.malformed = malformed


@dataclass(frozen=True, slots=True)
class AudioStream:
    """A peer's audio: where it receives RTP, what it sends and takes, and its direction.

    ``address`` is ``None`` for the ``0.0.0.0`` of an old-style hold; ``formats`` are the
    payload types in the peer's order, ``rtpmap`` their ``(name, clock rate)``. RTCP goes to
    ``rtcp_port`` (``a=rtcp``, RFC 3605; else the RTP port + 1), or to the RTP port when the
    peer multiplexes it (``a=rtcp-mux``, RFC 5761).
    """

    address: str | None
    port: int
    formats: tuple[int, ...]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    direction: str = "sendrecv"
    rtcp_port: int | None = None
    rtcp_mux: bool = False

    @property
    def rtcp_destination(self) -> int:
        """The port the peer takes RTCP on."""
        if self.rtcp_mux:
            return self.port
        return self.rtcp_port if self.rtcp_port is not None else self.port + 1

    @property
    def sends(self) -> bool:
        """Whether the peer sends audio (it is not holding us)."""
        return self.address is not None and self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        """Whether the peer takes audio (it is not on hold)."""
        return (
            self.address is not None
            and self.port > 0
            and self.direction in ("sendrecv", "recvonly")
        )

    def name_of(self, payload: int) -> tuple[str, int] | None:
        """The encoding and clock rate of ``payload`` (static ones known without rtpmap)."""
        if payload in self.rtpmap:
            return self.rtpmap[payload]
        static = STATIC_PAYLOADS.get(payload)
        return (static.name, CLOCK_RATE) if static is not None else None


@dataclass(frozen=True, slots=True)
class MediaChoice:
    """The codec both sides use, its payload type, and telephone-event's (``None``: no RFC 4733)."""

    codec: G711Codec
    payload: int
    event_payload: int | None


def parse_sdp(text: str) -> AudioStream:
    """The first audio stream of a session description (raises :class:`SDPError`)."""
    session = _Section()
    audio: _Section | None = None
    current: _Section | None = session  # where c= and a= lines go; None: a stream we skip
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line:
            continue
        kind, equals, value = line.partition("=")
        if not equals or len(kind) != 1:
            raise SDPError(f"not an SDP line: {line[:60]!r}")
        if kind == "m":
            current = None
            if value.startswith("audio ") and audio is None:
                audio = current = _media_line(value)
        elif kind == "c" and current is not None:
            current.address, current.has_address = _connection(value), True
        elif kind == "a" and current is not None:
            _attribute(value, current)
    if audio is None:
        raise SDPError("no audio stream", malformed=False)
    if not (audio.has_address or session.has_address):
        raise SDPError("no connection address (c=)")
    return AudioStream(
        address=audio.address if audio.has_address else session.address,
        port=audio.port,
        formats=audio.formats,
        rtpmap=audio.rtpmap,
        direction=audio.direction or session.direction or "sendrecv",
        rtcp_port=audio.rtcp_port,
        rtcp_mux=audio.rtcp_mux,
    )


def choose_media(stream: AudioStream) -> MediaChoice:
    """The first G.711 format the peer lists, and its telephone-event at 8 kHz if any."""
    event = next(
        (pt for pt in stream.formats if stream.name_of(pt) == (TELEPHONE_EVENT, CLOCK_RATE)),
        None,
    )
    for payload in stream.formats:
        name = stream.name_of(payload)
        if name is not None and name[0].upper() in CODECS and name[1] == CLOCK_RATE:
            return MediaChoice(CODECS[name[0].upper()], payload, event)
    raise SDPError("no PCMU or PCMA at 8000 Hz among the offered formats", malformed=False)


def answer_direction(offered: str) -> str:
    """The direction that answers ``offered`` (sendonly is answered recvonly...)."""
    return _REVERSED.get(offered, "inactive")


def write_sdp(
    address: str,
    port: int,
    choices: list[MediaChoice],
    *,
    session_id: int,
    version: int,
    direction: str = "sendrecv",
    rtcp_mux: bool = False,
) -> str:
    """voicegate's description: one audio stream at ``address:port`` with ``choices``' formats
    (an answer names one; an offer lists every one voicegate takes), its RTCP port
    (``port`` + 1) and, with ``rtcp_mux``, ``a=rtcp-mux`` (RTCP on the RTP port as well)."""
    family = "IP6" if ipaddress.ip_address(address).version == 6 else "IP4"
    formats: list[int] = []
    attributes: list[str] = []
    for choice in choices:
        formats.append(choice.payload)
        attributes.append(f"a=rtpmap:{choice.payload} {choice.codec.name}/{CLOCK_RATE}")
    events = {choice.event_payload for choice in choices if choice.event_payload is not None}
    for event in sorted(events):
        formats.append(event)
        attributes += [f"a=rtpmap:{event} {TELEPHONE_EVENT}/{CLOCK_RATE}", f"a=fmtp:{event} 0-15"]
    lines = [
        "v=0",
        f"o=voicegate {session_id} {version} IN {family} {address}",
        "s=voicegate",
        f"c=IN {family} {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(f) for f in formats)}",
        *attributes,
        "a=ptime:20",
        f"a={direction}",
        f"a=rtcp:{port + 1}",
        *(["a=rtcp-mux"] if rtcp_mux else []),
    ]
    return "\r\n".join(lines) + "\r\n"


def offered_choices() -> list[MediaChoice]:
    """What voicegate offers when the caller made no offer: PCMU, PCMA, telephone-event."""
    return [
        MediaChoice(ULAW, 0, DEFAULT_EVENT_PAYLOAD),
        MediaChoice(ALAW, 8, DEFAULT_EVENT_PAYLOAD),
    ]


@dataclass(slots=True)
class _Section:
    """The session level, or one media stream, as it is read."""

    port: int = 0
    formats: tuple[int, ...] = ()
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    address: str | None = None
    has_address: bool = False
    direction: str | None = None
    rtcp_port: int | None = None
    rtcp_mux: bool = False


def _media_line(value: str) -> _Section:
    parts = value.split()
    if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
        raise SDPError(f"a malformed m= line: {value[:60]!r}")
    if "RTP/AVP" not in parts[2]:
        raise SDPError(f"audio over {parts[2]}, not RTP/AVP", malformed=False)
    try:
        formats = tuple(int(f) for f in parts[3:])
    except ValueError:
        raise SDPError(f"audio formats that are not payload numbers: {value[:60]!r}") from None
    port = int(parts[1].split("/")[0])
    if not 0 <= port <= 65535 or any(not 0 <= f <= 127 for f in formats):
        raise SDPError(f"a port or payload type out of range: {value[:60]!r}")
    return _Section(port, formats)


def _connection(value: str) -> str | None:
    parts = value.split()
    if len(parts) < 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SDPError(f"a malformed c= line: {value[:60]!r}")
    address = parts[2].split("/")[0]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        raise SDPError(f"c= names {address!r}, not an IP address", malformed=False) from None
    return None if parsed.is_unspecified else address


def _attribute(value: str, section: _Section) -> None:
    if value in DIRECTIONS:
        section.direction = value
        return
    if value == "rtcp-mux":
        section.rtcp_mux = True
        return
    name, _, rest = value.partition(":")
    if name == "rtcp":
        port = rest.split(" ")[0]
        if not port.isdigit() or not 0 < int(port) <= 65535:
            raise SDPError(f"a malformed rtcp attribute: {value[:60]!r}")
        section.rtcp_port = int(port)
        return
    if name != "rtpmap":
        return
    payload, _, encoding = rest.partition(" ")
    parts = encoding.split("/")
    if not payload.isdigit() or len(parts) < 2 or not parts[1].isdigit():
        raise SDPError(f"a malformed rtpmap: {value[:60]!r}")
    section.rtpmap[int(payload)] = (parts[0], int(parts[1]))

"""SIP messages (RFC 3261), Sans-I/O: parsing requests and responses, writing them back.

:func:`parse_message` reads one whole message (a UDP datagram); :class:`StreamFramer` cuts
a TCP byte stream into messages by their ``Content-Length``. A message that cannot be read
raises :class:`SIPParseError` with the status it deserves (400, 413, 505), and, when its
request headers could be read, the request, so that the error can be answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from voicegate.errors import RoomKitError

SIP_VERSION = "SIP/2.0"
MAX_MESSAGE_BYTES = 32768
"""The largest message accepted, headers and body together."""
MAX_HEADERS = 128

COMPACT_NAMES = {
    "i": "Call-ID",
    "m": "Contact",
    "f": "From",
    "t": "To",
    "v": "Via",
    "l": "Content-Length",
    "c": "Content-Type",
    "k": "Supported",
    "s": "Subject",
    "e": "Content-Encoding",
    "o": "Event",
    "u": "Allow-Events",
}
REQUIRED_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_STATUS_LINE = re.compile(r"^SIP/(\d+\.\d+) (\d{3}) ?(.*)$")


class SIPParseError(RoomKitError, ValueError):
    """A message that cannot be read; ``status`` is the response it deserves.

    ``request`` is set when the start line and headers were read, so the error can be
    answered (a response needs the request's Via, From, To, Call-ID and CSeq).
    """

    def __init__(self, message: str, status: int = 400, request: SIPRequest | None = None):
        super().__init__(message)
        self.status = status
        self.request = request


class SIPHeaders:
    """Header fields in order; names are matched without case and compact forms expanded.

    Fields that may hold several comma-separated values (Via, Contact, Route...) are
    read value by value with :meth:`values`.
    """

    def __init__(self, fields: Iterable[tuple[str, str]] = ()) -> None:
        self._fields = [(canonical_name(name), value) for name, value in fields]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``."""
        wanted = canonical_name(name).lower()
        return next((v for n, v in self._fields if n.lower() == wanted), default)

    def get_all(self, name: str) -> list[str]:
        """Every field of ``name``, as written."""
        wanted = canonical_name(name).lower()
        return [v for n, v in self._fields if n.lower() == wanted]

    def values(self, name: str) -> list[str]:
        """Every value of ``name``, comma-separated values split apart."""
        return [part for value in self.get_all(name) for part in split_values(value)]

    def add(self, name: str, value: str) -> None:
        """Append a field."""
        self._fields.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every field of ``name`` with one."""
        self.remove(name)
        self.add(name, value)

    def remove(self, name: str) -> None:
        """Drop every field of ``name``."""
        wanted = canonical_name(name).lower()
        self._fields = [(n, v) for n, v in self._fields if n.lower() != wanted]


@dataclass(slots=True)
class SIPRequest:
    """A request; ``remote_address`` and ``transport`` say where it came from (``udp``/``tcp``)."""

    method: str
    uri: str
    headers: SIPHeaders = field(default_factory=SIPHeaders)
    body: bytes = b""
    remote_address: tuple[str, int] | None = None
    transport: str = "udp"


@dataclass(slots=True)
class SIPResponse:
    """A response."""

    status: int
    reason: str
    headers: SIPHeaders = field(default_factory=SIPHeaders)
    body: bytes = b""


SIPMessage = SIPRequest | SIPResponse


def canonical_name(name: str) -> str:
    """A header's full name (compact forms expanded), as written otherwise."""
    stripped = name.strip()
    return COMPACT_NAMES.get(stripped.lower(), stripped) if len(stripped) == 1 else stripped


def split_values(value: str) -> list[str]:
    """Comma-separated values, ignoring commas inside quotes and ``<...>``."""
    parts: list[str] = []
    current: list[str] = []
    quoted = bracketed = False
    for char in value:
        if char == '"':
            quoted = not quoted
        elif char == "<" and not quoted:
            bracketed = True
        elif char == ">" and not quoted:
            bracketed = False
        if char == "," and not quoted and not bracketed:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [part for part in parts if part]


def parse_message(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> SIPMessage:
    """One whole message (a datagram); the body runs to ``Content-Length`` or the end."""
    if len(data) > max_bytes:
        head = data[: data.find(b"\r\n\r\n")] if b"\r\n\r\n" in data[:max_bytes] else b""
        raise _error(f"a {len(data)}-byte message (limit {max_bytes})", _head_or_none(head), 413)
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        head, separator, rest = data.partition(b"\n\n")
    if not separator:
        raise SIPParseError("no blank line after the headers")
    message = _parse_head(head)
    length = message.headers.get("Content-Length")
    if length is None:
        message.body = rest
        return message
    size = _content_length(length, message)
    if len(rest) < size:
        raise _error(f"Content-Length {size} but {len(rest)} bytes of body", message)
    message.body = rest[:size]
    return message


class StreamFramer:
    """Cuts a byte stream (SIP over TCP) into messages; every one needs a ``Content-Length``."""

    def __init__(self, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._max_bytes = max_bytes

    def feed(self, data: bytes) -> list[SIPMessage]:
        """The messages completed by ``data``. Raises :class:`SIPParseError` on a stream that
        cannot be framed any more (the connection must then be closed)."""
        self._buffer += data
        messages: list[SIPMessage] = []
        while True:
            while self._buffer[:2] == b"\r\n":  # keep-alive CRLFs between messages
                del self._buffer[:2]
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self._max_bytes:
                    raise SIPParseError("headers without an end", 413)
                return messages
            message = _parse_head(bytes(self._buffer[:end]))
            length = message.headers.get("Content-Length")
            if length is None:
                raise _error("a message over TCP without Content-Length", message)
            size = _content_length(length, message)
            if end + 4 + size > self._max_bytes:
                raise _error(f"a {end + 4 + size}-byte message", message, 413)
            if len(self._buffer) < end + 4 + size:
                return messages
            message.body = bytes(self._buffer[end + 4 : end + 4 + size])
            del self._buffer[: end + 4 + size]
            messages.append(message)


def serialize(message: SIPMessage) -> bytes:
    """The message on the wire, with its ``Content-Length`` set."""
    if isinstance(message, SIPRequest):
        start = f"{message.method} {message.uri} {SIP_VERSION}"
    else:
        start = f"{SIP_VERSION} {message.status} {message.reason}"
    message.headers.set("Content-Length", str(len(message.body)))
    lines = [start, *(f"{name}: {value}" for name, value in message.headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + message.body


def _parse_head(head: bytes) -> SIPMessage:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SIPParseError("headers that are not UTF-8") from None
    lines = text.replace("\r\n", "\n").split("\n")
    start, fields = lines[0].strip(), _fields(lines[1:])
    status = _STATUS_LINE.match(start)
    if status:
        if status.group(1) != "2.0":
            raise SIPParseError(f"SIP version {status.group(1)}", 505)
        return SIPResponse(int(status.group(2)), status.group(3), SIPHeaders(fields))
    parts = start.split(" ")
    if len(parts) != 3 or not _TOKEN.match(parts[0]) or not parts[1]:
        raise SIPParseError(f"not a request or status line: {start[:80]!r}")
    method, uri, version = parts
    request = SIPRequest(method.upper(), uri, SIPHeaders(fields))
    if version != SIP_VERSION:
        raise _error(f"SIP version {version!r}", request, 505)
    missing = [name for name in REQUIRED_HEADERS if name not in request.headers]
    if missing:
        raise _error(f"missing {', '.join(missing)}", request)
    cseq = (request.headers.get("CSeq") or "").split()
    if len(cseq) != 2 or not cseq[0].isdigit() or cseq[1].upper() != request.method:
        raise _error("a CSeq that is not '<number> <the request's method>'", request)
    return request


def _fields(lines: list[str]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (" ", "\t") and fields:  # folded onto the previous field
            name, value = fields[-1]
            fields[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            raise SIPParseError(f"a header line without a name: {line[:80]!r}")
        fields.append((name, value.strip()))
        if len(fields) > MAX_HEADERS:
            raise SIPParseError(f"more than {MAX_HEADERS} header fields", 413)
    return fields


def _content_length(value: str, message: SIPMessage) -> int:
    if not value.strip().isdigit():
        raise _error(f"Content-Length {value!r} is not a number", message)
    return int(value)


def _head_or_none(head: bytes) -> SIPMessage | None:
    """The start line and headers, when they can be read (to answer an oversized request)."""
    try:
        return _parse_head(head) if head else None
    except SIPParseError:
        return None


def _error(text: str, message: SIPMessage | None, status: int = 400) -> SIPParseError:
    return SIPParseError(text, status, message if isinstance(message, SIPRequest) else None)

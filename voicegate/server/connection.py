"""A websockets server connection that also accepts plain HTTP requests with a body.

websockets parses the opening request itself and refuses any request body. This
connection sits in front of that parser: it buffers the request head, reads a
``Content-Length`` body (bounded), removes the body and its length header from the
byte stream, and only then hands the head to websockets. The body stays on the
connection for the front door's router. Requests it can already tell are bad (no
valid request line, a bad or too large ``Content-Length``, ``Transfer-Encoding``)
are answered here and the connection is closed.
"""

from __future__ import annotations

import logging
from typing import Any

from websockets.asyncio.server import ServerConnection

from voicegate.server.messages import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16384
"""Request heads larger than this are passed to websockets untouched, which rejects them."""

_HEAD_END = b"\r\n\r\n"


class BodyReadingConnection(ServerConnection):
    """A :class:`ServerConnection` that reads a bounded request body before the handshake.

    ``max_body_bytes`` is set on a subclass made by :func:`connection_class`.
    """

    max_body_bytes = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_body = b""
        self.http_request: HttpRequest | None = None
        self._buffer = bytearray()
        self._head: bytes | None = None
        self._body_length = 0
        self._passthrough = False
        self._discarding = False

    def data_received(self, data: bytes) -> None:
        if self._passthrough:
            super().data_received(data)
            return
        if self._discarding:
            return
        self._buffer += data
        if self._head is None:
            self._read_head()
        if self._head is not None and len(self._buffer) >= self._body_length:
            self._release_head()

    def eof_received(self) -> None:
        if self._passthrough:
            super().eof_received()
        else:
            self.transport.close()

    def _read_head(self) -> None:
        end = self._buffer.find(_HEAD_END)
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self._pass_through(bytes(self._buffer))
            return
        head = bytes(self._buffer[: end + len(_HEAD_END)])
        del self._buffer[: end + len(_HEAD_END)]
        try:
            self._head, self._body_length = _strip_body_headers(head)
        except _BadRequestError as exc:
            self._answer_and_close(HttpResponse.error(exc.status, str(exc)))
            return
        if self._body_length > self.max_body_bytes:
            self._answer_and_close(
                HttpResponse.error(
                    413,
                    f"request body of {self._body_length} bytes exceeds the limit of "
                    f"{self.max_body_bytes} bytes",
                )
            )

    def _release_head(self) -> None:
        assert self._head is not None
        self.request_body = bytes(self._buffer[: self._body_length])
        rest = bytes(self._buffer[self._body_length :])
        self._pass_through(self._head + rest)

    def _pass_through(self, data: bytes) -> None:
        self._passthrough = True
        self._buffer.clear()
        if data:
            super().data_received(data)

    def _answer_and_close(self, response: HttpResponse) -> None:
        """Send ``response``, stop writing, drop what the client still sends until it closes."""
        logger.info("HTTP request refused before routing: %d %s", response.status, response.body)
        self._discarding = True
        self._buffer.clear()
        self.transport.write(response.to_websockets().serialize())
        self.transport.write_eof()


class _BadRequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _strip_body_headers(head: bytes) -> tuple[bytes, int]:
    """The head without its ``Content-Length`` lines, and the body length they announced."""
    lines = head[: -len(_HEAD_END)].split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0") or not parts[1]:
        raise _BadRequestError(400, "malformed HTTP request line")
    kept = [lines[0]]
    lengths: set[bytes] = set()
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise _BadRequestError(400, "malformed HTTP header line")
        key = name.strip().lower()
        if key == b"transfer-encoding":
            raise _BadRequestError(411, "Transfer-Encoding is not supported; send Content-Length")
        if key == b"content-length":
            lengths.add(value.strip())
        else:
            kept.append(line)
    if not lengths:
        return head, 0
    if len(lengths) > 1 or not next(iter(lengths)).isdigit():
        raise _BadRequestError(400, "invalid Content-Length header")
    return b"\r\n".join(kept) + _HEAD_END, int(next(iter(lengths)))


def connection_class(max_body_bytes: int) -> type[BodyReadingConnection]:
    """A :class:`BodyReadingConnection` subclass bounded to ``max_body_bytes``."""
    return type(
        "BoundedBodyReadingConnection", (BodyReadingConnection,), {"max_body_bytes": max_body_bytes}
    )

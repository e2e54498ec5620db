"""Starlette's requests and WebSockets as the voice backends' I/O-agnostic types."""

from __future__ import annotations

import contextlib

from starlette.requests import HTTPConnection, Request
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from voicegate.errors import RoomKitError
from voicegate.voice.endpoint import SocketClosedError
from voicegate.voice.http import CaseInsensitiveHeaders, HttpRequest

_CLOSED = (WebSocketState.DISCONNECTED, WebSocketState.RESPONSE)


class BodyTooLargeError(RoomKitError):
    """A request body is larger than its endpoint accepts."""


def http_request(connection: HTTPConnection, method: str, body: bytes = b"") -> HttpRequest:
    """``connection`` (a request or a WebSocket upgrade) as an :class:`HttpRequest`."""
    client = connection.client
    return HttpRequest(
        method=method,
        path=connection.scope["path"],
        query=dict(connection.query_params),
        headers=CaseInsensitiveHeaders(connection.headers.items()),
        body=body,
        remote_address=None if client is None else (client.host, client.port),
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The body of ``request``, holding at most ``limit`` bytes of it.

    Raises :class:`BodyTooLargeError` as soon as the declared ``Content-Length`` or the
    bytes received exceed ``limit``; the rest is never read.
    """
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(
            f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise BodyTooLargeError(f"request body exceeds the limit of {limit} bytes")
        body += chunk
    return bytes(body)


class StarletteMessageSocket:
    """A Starlette :class:`WebSocket` as a :class:`~voicegate.voice.endpoint.MessageSocket`."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def accept(self, subprotocol: str | None = None) -> None:
        """Complete the upgrade, echoing ``subprotocol``; :class:`SocketClosedError` if gone."""
        try:
            await self._websocket.accept(subprotocol)
        except (WebSocketDisconnect, OSError) as exc:
            raise SocketClosedError("the client left before the upgrade completed") from exc

    async def receive(self) -> str | bytes:
        """The next text or binary message; :class:`SocketClosedError` once closed."""
        if self._websocket.client_state is WebSocketState.DISCONNECTED:
            raise SocketClosedError("the WebSocket is closed")
        message = await self._websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise SocketClosedError(_why_closed(message.get("code"), message.get("reason")))
        text: str | None = message.get("text")
        if text is not None:
            return text
        data: bytes = message.get("bytes") or b""
        return data

    async def send(self, message: str | bytes) -> None:
        """Send a text or binary message; :class:`SocketClosedError` once closed."""
        if self._websocket.application_state is not WebSocketState.CONNECTED:
            raise SocketClosedError("the WebSocket is closed")
        try:
            if isinstance(message, str):
                await self._websocket.send_text(message)
            else:
                await self._websocket.send_bytes(message)
        except (WebSocketDisconnect, OSError) as exc:
            raise SocketClosedError("the WebSocket is closed") from exc

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code`` and ``reason`` unless already closed (before accept: refuse it)."""
        if self._websocket.application_state in _CLOSED:
            return
        with contextlib.suppress(WebSocketDisconnect, OSError):
            await self._websocket.close(code, reason)


def _why_closed(code: int | None, reason: str | None) -> str:
    """Why the client's connection ended, for the log."""
    if code in (1005, 1006):
        return (
            f"the connection was lost without a close frame (code {code}): the client went "
            "away, or did not answer the server's keepalive pings in time"
        )
    return f"the client closed the WebSocket with code {code}" + (f" ({reason})" if reason else "")

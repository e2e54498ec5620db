"""How a server reaches a voice backend: WebSocket endpoints and HTTP endpoints, I/O-agnostic.

A backend that serves sessions over a WebSocket is a :class:`WebSocketEndpoint`: the
server hands it each upgrade request with a :class:`MessageSocket`, its own socket
adapted to four calls. A backend that answers HTTP requests is an :class:`HttpEndpoint`:
the server reads the body (at most ``max_body_bytes``) and writes back the
:class:`~voicegate.voice.http.HttpReply`. ``voicegate.server.asgi.create_voice_app`` routes
every backend of a gateway that is one of the two.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from voicegate.errors import RoomKitError
from voicegate.voice.http import HttpReply, HttpRequest


class SocketClosedError(RoomKitError):
    """The WebSocket is closed: the peer went away or the server closed it."""


class MessageSocket(Protocol):
    """One WebSocket connection, from the upgrade on, as a backend drives it."""

    async def accept(self, subprotocol: str | None = None) -> None:
        """Complete the upgrade, answering with ``subprotocol`` (``None``: none)."""
        ...

    async def receive(self) -> str | bytes:
        """The next message: ``str`` for text, ``bytes`` for binary.

        Raises :class:`SocketClosedError` once the connection is closed.
        """
        ...

    async def send(self, message: str | bytes) -> None:
        """Send a text (``str``) or binary (``bytes``) message.

        Raises :class:`SocketClosedError` once the connection is closed.
        """
        ...

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code`` and ``reason``; does nothing on a closed connection."""
        ...


@runtime_checkable
class WebSocketEndpoint(Protocol):
    """A backend served over WebSocket connections at ``path``."""

    @property
    def path(self) -> str:
        """Where the server routes upgrade requests, relative to where it mounts voicegate."""
        ...

    async def serve_socket(self, request: HttpRequest, socket: MessageSocket) -> None:
        """Serve one connection until it ends; ``socket`` is not yet accepted."""
        ...


@runtime_checkable
class HttpEndpoint(Protocol):
    """A backend that answers ``POST`` requests at ``path``."""

    @property
    def path(self) -> str:
        """Where the server routes the requests, relative to where it mounts voicegate."""
        ...

    @property
    def max_body_bytes(self) -> int:
        """The largest request body it accepts; the server answers 413 to larger ones."""
        ...

    async def respond(self, request: HttpRequest) -> HttpReply:
        """Answer ``request`` (its body already read)."""
        ...

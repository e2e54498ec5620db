"""The single-port front door: HTTP routes, static files and WebSocket endpoints on one port.

Built on ``websockets``: every connection starts as an HTTP request that websockets'
handshake reads; the router (``process_request``) answers plain HTTP requests itself
and lets upgrade requests on a WebSocket path through to their handler. Request
bodies are read by :class:`~voicegate.server.connection.BodyReadingConnection`.
Every response closes its connection (no keep-alive).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from voicegate.errors import RoomKitError
from voicegate.server.connection import BodyReadingConnection, connection_class
from voicegate.server.messages import HttpRequest, HttpResponse
from voicegate.server.static import StaticFiles

logger = logging.getLogger(__name__)

HttpHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]
"""Answers one plain HTTP request."""

WebSocketHandler = Callable[[HttpRequest, ServerConnection], Awaitable[None]]
"""Serves one WebSocket connection; the request is its opening handshake."""

SUBPROTOCOL_PREFIX = "voicegate."
"""The first offered subprotocol starting with this is accepted (browsers require an answer)."""


class PortInUseError(RoomKitError):
    """The front door's port is taken by another process."""


class FrontDoor:
    """One listening port for routes, static files and WebSocket endpoints."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        max_body_bytes: int = 65536,
        max_ws_message_bytes: int = 2**20,
        open_timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._max_body_bytes = max_body_bytes
        self._max_ws_message_bytes = max_ws_message_bytes
        self._open_timeout = open_timeout
        self._routes: dict[str, dict[str, HttpHandler]] = {}
        self._websockets: dict[str, WebSocketHandler] = {}
        self._static: list[tuple[str, StaticFiles]] = []
        self._server: Server | None = None

    def route(self, method: str, path: str, handler: HttpHandler) -> None:
        """Answer ``method`` requests on exactly ``path`` with ``handler``."""
        self._routes.setdefault(path, {})[method.upper()] = handler

    def websocket(self, path: str, handler: WebSocketHandler) -> None:
        """Accept WebSocket upgrades (``GET``) on ``path`` and hand them to ``handler``."""
        self._websockets[path] = handler

    def static(self, url_prefix: str, directory: Path) -> None:
        """Serve the files of ``directory`` under ``url_prefix`` (``GET`` only, no traversal)."""
        prefix = url_prefix if url_prefix.endswith("/") else f"{url_prefix}/"
        self._static.append((prefix, StaticFiles(directory)))

    @property
    def port(self) -> int:
        """The port actually listened on (useful with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("FrontDoor is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        """Start listening; raises :class:`PortInUseError` with a clear message for a busy port."""
        try:
            self._server = await serve(
                self._serve_websocket,
                self._host,
                self._port,
                create_connection=connection_class(self._max_body_bytes),
                process_request=self._process_request,
                select_subprotocol=_select_subprotocol,
                max_size=self._max_ws_message_bytes,
                open_timeout=self._open_timeout,
                server_header="voicegate",
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"port {self._port} on {self._host} is already in use"
                ) from exc
            raise
        logger.info("front door listening on http://%s:%d", self._host, self.port)

    async def stop(self, close_code: int = 1001, reason: str = "server shutting down") -> None:
        """Stop listening, close open WebSockets with ``close_code`` and wait for their handlers."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close(code=close_code, reason=reason)
        await server.wait_closed()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def respond(self, request: HttpRequest) -> HttpResponse:
        """Route a plain HTTP request: a handler, a static file, 404 or 405."""
        handlers = self._routes.get(request.path)
        if handlers is not None:
            handler = handlers.get(request.method)
            if handler is None:
                return _method_not_allowed(sorted(handlers))
            return await _call_handler(handler, request)
        for prefix, files in self._static:
            if request.path.startswith(prefix) or request.path == prefix.rstrip("/"):
                if request.method != "GET":
                    return _method_not_allowed(["GET"])
                return await files.respond(request.path[len(prefix) :])
        return HttpResponse.error(404, f"no such path: {request.path}")

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        assert isinstance(connection, BodyReadingConnection)
        http_request = HttpRequest.from_websockets(
            request, connection.request_body, _address(connection.remote_address)
        )
        connection.http_request = http_request
        if http_request.path in self._websockets:
            if http_request.method != "GET":
                return _method_not_allowed(["GET"]).to_websockets()
            return None
        return (await self.respond(http_request)).to_websockets()

    async def _serve_websocket(self, connection: ServerConnection) -> None:
        assert isinstance(connection, BodyReadingConnection)
        assert connection.http_request is not None
        handler = self._websockets[connection.http_request.path]
        await handler(connection.http_request, connection)


async def _call_handler(handler: HttpHandler, request: HttpRequest) -> HttpResponse:
    try:
        response = await handler(request)
    except Exception:
        logger.exception("handler for %s %s raised", request.method, request.path)
        return HttpResponse.error(500, "internal server error")
    if not isinstance(response, HttpResponse):
        logger.error(
            "handler for %s %s returned %s, not an HttpResponse",
            request.method,
            request.path,
            type(response).__name__,
        )
        return HttpResponse.error(500, "internal server error")
    return response


def _method_not_allowed(allowed: list[str]) -> HttpResponse:
    methods = ", ".join(allowed)
    return HttpResponse.error(405, f"method not allowed; use {methods}", {"Allow": methods})


def _select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    return next((p for p in offered if p.startswith(SUBPROTOCOL_PREFIX)), None)


def _address(remote: object) -> tuple[str, int] | None:
    if isinstance(remote, tuple) and len(remote) >= 2:
        return (str(remote[0]), int(remote[1]))
    return None

"""uvicorn serving an ASGI app inside the running asyncio program, on a socket bound here."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp

from voicegate.errors import RoomKitError

logger = logging.getLogger(__name__)

MAX_WS_MESSAGE_BYTES = 2**20
"""The largest WebSocket message the server reads; a larger one closes the socket with 1009."""
WS_PING_INTERVAL_S = 20.0
"""The server pings every WebSocket client this often (keepalive)."""
WS_PING_TIMEOUT_S = 120.0
"""A client that has not answered a ping after this long is taken for gone and its connection
is dropped. uvicorn's default (20 s) dropped callers whose machine was merely starved of CPU;
a dead client also ends by its session's idle timeout (the silence fed in for it)."""


class PortInUseError(RoomKitError):
    """The port to listen on is taken by another process."""


class EmbeddedServer:
    """uvicorn serving ``app`` on ``host:port`` within the running asyncio program.

    The listening socket is bound here, so a busy port raises :class:`PortInUseError`
    and ``port=0`` works (:attr:`port` is the bound one). HTTP/1.1 is h11, WebSockets
    are websockets' Sans-I/O implementation with messages up to ``max_ws_message_bytes``,
    pinged every ``ws_ping_interval`` seconds and dropped after ``ws_ping_timeout`` seconds
    without a pong; a request's client address is its socket's peer (proxy headers are not
    trusted).
    Signals stay with the program: it decides when to :meth:`stop`. Stopping closes the
    listener, then whatever connections are still open (uvicorn closes WebSockets with
    1012), waiting at most ``shutdown_timeout`` seconds for their handlers.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 8765,
        *,
        max_ws_message_bytes: int = MAX_WS_MESSAGE_BYTES,
        ws_ping_interval: float = WS_PING_INTERVAL_S,
        ws_ping_timeout: float = WS_PING_TIMEOUT_S,
        shutdown_timeout: int = 10,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._config = uvicorn.Config(
            app,
            http="h11",
            ws="websockets-sansio",
            ws_max_size=max_ws_message_bytes,
            # PCM does not compress (deflate saved 6% of 20 ms frames of speech, at 50 us
            # each on the event loop), and the JSON messages are small
            ws_per_message_deflate=False,
            ws_ping_interval=ws_ping_interval,
            ws_ping_timeout=ws_ping_timeout,
            lifespan="off",
            proxy_headers=False,
            log_config=None,
            timeout_graceful_shutdown=shutdown_timeout,
        )
        self._server: _ProgramOwnedServer | None = None
        self._serving: asyncio.Task[None] | None = None
        self._port = 0

    @property
    def port(self) -> int:
        """The port listened on (useful with ``port=0``)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return self._port

    async def start(self) -> None:
        """Bind the port and return once uvicorn serves it."""
        listener = _bind(self._host, self._requested_port)
        self._port = listener.getsockname()[1]
        server = _ProgramOwnedServer(self._config)
        serving = asyncio.create_task(server.serve(sockets=[listener]), name="uvicorn")
        started = asyncio.create_task(server.started_serving.wait())
        try:
            await asyncio.wait({serving, started}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            serving.cancel()
            raise
        finally:
            started.cancel()
        if serving.done():
            listener.close()
            serving.result()
            raise RuntimeError("uvicorn stopped before it served")
        self._server, self._serving = server, serving
        logger.info("listening on http://%s:%d", self._host, self._port)

    async def stop(self) -> None:
        """Stop listening and close the remaining connections (see the class docstring)."""
        server, serving = self._server, self._serving
        self._server = self._serving = None
        if server is None or serving is None:
            return
        server.should_exit = True
        await serving

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


class _ProgramOwnedServer(uvicorn.Server):
    """uvicorn that leaves SIGINT/SIGTERM to the program and says when it serves."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.started_serving = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.started_serving.set()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(f"port {port} on {host} is already in use") from exc
        raise

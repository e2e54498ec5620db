"""SIP over the network: a UDP socket and a TCP listener that hand each message, or each
message that cannot be read, to one handler with the peer to answer."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from voicegate.telephony.sip.message import (
    MAX_MESSAGE_BYTES,
    SIPMessage,
    SIPParseError,
    StreamFramer,
    parse_message,
)

logger = logging.getLogger(__name__)

READ_BYTES = 65536
BIND_ATTEMPTS = 5
"""How many ports :meth:`SIPListeners.start` tries when any free one will do: the UDP port the
system picks may be taken for TCP (a test run of two workers met it)."""


@dataclass(eq=False)
class SIPPeer:
    """Who sent a message, and how to answer: ``udp`` datagrams to ``address``, or the ``tcp``
    connection it came on."""

    transport: str
    address: tuple[str, int]
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.StreamWriter | None = None

    @property
    def open(self) -> bool:
        """Whether messages can still be sent this way."""
        if self._tcp is not None:
            return not self._tcp.is_closing()
        return self._udp is not None and not self._udp.is_closing()

    def send(self, data: bytes) -> None:
        """Send ``data`` (dropped, and logged, when the connection is gone)."""
        if not self.open:
            logger.info(
                "SIP %s peer %s:%d is gone: a message was dropped", self.transport, *self.address
            )
        elif self._tcp is not None:
            self._tcp.write(data)
        elif self._udp is not None:
            self._udp.sendto(data, self.address)

    def close(self) -> None:
        """Close a TCP connection (nothing for UDP)."""
        if self._tcp is not None:
            self._tcp.close()


Handler = Callable[[SIPMessage | SIPParseError, SIPPeer], None]
"""Receives each message read, or the error of one that could not be, and its peer."""


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler, max_bytes: int) -> None:
        self._handler = handler
        self._max_bytes = max_bytes
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # not its subclass in 3.11

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # a keep-alive
        peer = SIPPeer("udp", (addr[0], addr[1]), _udp=self.transport)
        try:
            message: SIPMessage | SIPParseError = parse_message(data, max_bytes=self._max_bytes)
        except SIPParseError as error:
            message = error
        self._handler(message, peer)


class SIPListeners:
    """The UDP socket and TCP listener of one SIP server on ``host:port`` (``port`` 0: any
    free one, the same for both where it can be)."""

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        transports: tuple[str, ...] = ("udp", "tcp"),
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self._handler = handler
        self._host = host
        self._requested_port = port
        self._transports = transports
        self._max_bytes = max_bytes
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = port

    async def start(self) -> None:
        """Bind and listen; on port 0, on another free port while the one the system gave
        UDP is taken for TCP (at most :data:`BIND_ATTEMPTS`)."""
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                self.port = await self._bind(self._requested_port)
                return
            except OSError as error:
                mendable = not self._requested_port and error.errno == errno.EADDRINUSE
                if not mendable or attempt == BIND_ATTEMPTS:
                    raise
                logger.debug("SIP: the free UDP port was taken for TCP (%s): another", error)

    async def _bind(self, port: int) -> int:
        """Bind the transports on ``port`` (0: the one the system gives the first); the
        port bound. Nothing stays bound when a transport fails."""
        loop = asyncio.get_running_loop()
        if "udp" in self._transports:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Datagrams(self._handler, self._max_bytes), local_addr=(self._host, port)
            )
            self._udp = transport
            port = transport.get_extra_info("sockname")[1]
        if "tcp" in self._transports:
            try:
                self._tcp = await asyncio.start_server(self._serve_connection, self._host, port)
            except OSError:
                if self._udp is not None:
                    self._udp.close()
                    self._udp = None
                raise
            port = self._tcp.sockets[0].getsockname()[1]
        return int(port)

    async def close(self) -> None:
        """Stop listening and close every connection."""
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for task in self._connections:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await self._tcp.wait_closed()

    async def connect(self, address: tuple[str, int]) -> SIPPeer:
        """A new TCP connection to ``address`` (to reach a caller whose connection closed)."""
        reader, writer = await asyncio.open_connection(*address)
        peer = SIPPeer("tcp", address, _tcp=writer)
        task = asyncio.create_task(self._read(reader, writer, peer))
        self._track(task)
        return peer

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        task = asyncio.current_task()
        assert task is not None
        self._track(task)
        await self._read(reader, writer, SIPPeer("tcp", (host, port), _tcp=writer))

    async def _read(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: SIPPeer
    ) -> None:
        framer = StreamFramer(self._max_bytes)
        try:
            while data := await reader.read(READ_BYTES):
                try:
                    messages = framer.feed(data)
                except SIPParseError as error:
                    self._handler(error, peer)
                    return  # a stream that cannot be framed cannot go on
                for message in messages:
                    self._handler(message, peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _track(self, task: asyncio.Task[None]) -> None:
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)

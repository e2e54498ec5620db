"""A UDP socket for a stream of datagrams (RTP) that reads everything it holds when woken.

asyncio's datagram transport reads one datagram per event-loop iteration and socket: on a
busy loop a call's packets, 50 a second each way, wait in the socket for as many iterations
as there are packets, where a TCP stream (a WebSocket) is read in one go.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

logger = logging.getLogger(__name__)

Address = tuple[str, int]

MAX_DATAGRAM = 65535
READ_BURST = 256
"""The most datagrams read at one wake-up; the rest wait for the next iteration, so that a
flooded socket cannot hold the loop."""


class DatagramSocket:
    """A bound, non-blocking UDP socket that hands every datagram to ``receive``."""

    def __init__(self, sock: socket.socket, receive: Callable[[bytes, Address], None]) -> None:
        self._sock = sock
        self._receive = receive
        self._loop = asyncio.get_running_loop()
        self.port: int = sock.getsockname()[1]
        self._loop.add_reader(sock, self._readable)

    @classmethod
    async def bind(
        cls, host: str, port: int, receive: Callable[[bytes, Address], None]
    ) -> DatagramSocket:
        """Bind ``host:port`` (port 0: any free one); :class:`OSError` when it is taken."""
        try:  # an address needs no lookup in a thread
            infos = socket.getaddrinfo(
                host, port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
            )
        except socket.gaierror:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.bind(address)
            return cls(sock, receive)
        except BaseException:
            sock.close()
            raise

    def sendto(self, data: bytes, address: Address) -> None:
        """Send one datagram; dropped, as a network drops it, when the socket cannot take it."""
        try:
            self._sock.sendto(data, address)
        except OSError as error:
            logger.debug("a datagram to %s:%d was not sent: %s", *address, error)

    def close(self) -> None:
        """Stop reading and close the socket (again: nothing)."""
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock)
            self._sock.close()

    def _readable(self) -> None:
        for _ in range(READ_BURST):
            try:
                data, source = self._sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:  # an error the network reported on the socket
                logger.debug("UDP port %d: %s", self.port, error)
                return
            self._receive(data, (source[0], source[1]))

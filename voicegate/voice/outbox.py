"""A socket's outgoing messages, sent in order by one task, and the peer that does not read.

Nothing but the writer task waits on the network: whoever has something to say queues it
(:meth:`SocketWriter.write`) and goes on. A peer that stops reading cannot hold up the
session that writes to it, nor anyone else: once a message has waited ``send_timeout``
seconds to be taken, or more than ``max_bytes`` wait unsent, the peer is too slow, the
queue is dropped, ``on_too_slow`` is called, once, and the socket is closed with 4429
``too_slow`` (a peer that reads nothing may never see that frame).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from voicegate.voice.endpoint import MessageSocket, SocketClosedError
from voicegate.voice.protocol import CloseCode

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S = 5.0
"""How long the peer may leave one message untaken before it counts as too slow."""
MAX_UNSENT_BYTES = 1 << 20
"""How much may wait unsent before the peer counts as too slow."""
TOO_SLOW = "too_slow"
"""The close reason (code 4429) of a peer that does not read."""


class SocketWriter:
    """Sends ``socket``'s messages in order; see the module docstring."""

    def __init__(
        self,
        socket: MessageSocket,
        on_too_slow: Callable[[], None],
        *,
        send_timeout: float = SEND_TIMEOUT_S,
        max_bytes: int = MAX_UNSENT_BYTES,
    ) -> None:
        self._socket = socket
        self._on_too_slow = on_too_slow
        self._send_timeout = send_timeout
        self._max_bytes = max_bytes
        self._queue: deque[str | bytes] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closing: tuple[int, str] | None = None
        self.too_slow = False
        self._task = asyncio.create_task(self._run(), name="socket-writer")

    def write(self, messages: list[str | bytes]) -> None:
        """Queue ``messages`` to be sent after those queued before."""
        if not messages or self.too_slow or self._closing is not None:
            return
        self._queue.extend(messages)
        self._queued_bytes += sum(len(message) for message in messages)
        self._drained.clear()
        self._wake.set()
        if self._queued_bytes > self._max_bytes:
            self._give_up(f"{self._queued_bytes} bytes wait unsent")

    async def drained(self) -> None:
        """Return once everything queued so far was sent (or dropped)."""
        await self._drained.wait()

    async def close(self, code: int, reason: str) -> None:
        """Send what is queued, then close the socket with ``code``; the writer ends."""
        if self._closing is None:
            self._closing = (code, reason)
            self._wake.set()
        await asyncio.gather(self._task, return_exceptions=True)

    def _give_up(self, why: str) -> None:
        if self.too_slow:
            return
        logger.warning("the client does not read what it is sent (%s): closing it", why)
        self.too_slow = True
        self._closing = (CloseCode.TOO_SLOW, TOO_SLOW)
        self._queue.clear()
        self._queued_bytes = 0
        self._drained.set()
        self._wake.set()
        self._on_too_slow()

    async def _run(self) -> None:
        try:
            while not self.too_slow:
                if not self._queue:
                    self._drained.set()
                    if self._closing is not None:
                        break
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                message = self._queue[0]
                try:
                    async with asyncio.timeout(self._send_timeout):
                        await self._socket.send(message)
                except TimeoutError:
                    self._give_up(f"a message untaken for {self._send_timeout:g} s")
                    break
                except SocketClosedError:
                    self._queue.clear()
                    continue
                if self._queue and self._queue[0] is message:
                    self._queue.popleft()
                    self._queued_bytes -= len(message)
        finally:
            self._drained.set()
        if self._closing is not None or self.too_slow:
            await self._close_socket()

    async def _close_socket(self) -> None:
        assert self._closing is not None
        code, reason = self._closing
        with contextlib.suppress(TimeoutError, SocketClosedError):
            async with asyncio.timeout(self._send_timeout):  # a peer that reads nothing
                await self._socket.close(code, reason)

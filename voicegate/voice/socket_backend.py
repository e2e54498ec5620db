"""What every backend that runs one session per WebSocket shares: the open sockets, a
session in a reserved slot, and closing them all when the server goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from voicegate.voice.admission import CapacityError
from voicegate.voice.backend import SessionRequest, VoiceBackend
from voicegate.voice.endpoint import MessageSocket
from voicegate.voice.protocol import GOING_AWAY, CloseCode
from voicegate.voice.transport import VoiceTransport

T = TypeVar("T", bound=VoiceTransport)


class SocketVoiceBackend(VoiceBackend, Generic[T]):
    """A backend served as a ``WebSocketEndpoint`` at ``path``, one session per socket.

    A subclass serves each accepted socket with :meth:`serve_registered`, which keeps it
    in :attr:`sockets` (with its transport once the session runs, ``None`` before), and
    runs its session with :meth:`run_in_reserved_slot`; :meth:`close` refuses new
    sockets (:attr:`closing`) and closes every open one with 1001.
    """

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path
        self.sockets: dict[MessageSocket, T | None] = {}
        self.closing = False

    @property
    def path(self) -> str:
        """Where the server routes this backend's upgrade requests."""
        return self._path

    @property
    def session_count(self) -> int:
        """Sockets whose session runs."""
        return sum(transport is not None for transport in self.sockets.values())

    async def serve_registered(
        self, socket: MessageSocket, serve: Callable[[], Awaitable[None]]
    ) -> None:
        """Await ``serve()`` with the accepted ``socket`` in :attr:`sockets`; once
        :attr:`closing`, close it with 1001 instead."""
        if self.closing:
            await socket.close(CloseCode.GOING_AWAY, GOING_AWAY)
            return
        self.sockets[socket] = None
        try:
            await serve()
        finally:
            self.sockets.pop(socket, None)

    async def run_in_reserved_slot(
        self,
        socket: MessageSocket,
        open_transport: Callable[[], T],
        request: SessionRequest,
        metadata: dict[str, Any],
        *,
        ended: Callable[[], object] | None = None,
        refuse: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        """Reserve a session slot, or refuse the session with 1013 and the refusal's reason
        (``refuse(reason)``, by default closing ``socket``); run in it the session of the
        transport ``open_transport()`` makes (see
        :meth:`~voicegate.voice.backend.VoiceBackend.run_admitted_session`)."""
        try:
            slot = self.session_handler.reserve()
        except CapacityError as refusal:
            if refuse is not None:
                await refuse(refusal.reason)
            else:
                await socket.close(CloseCode.TRY_AGAIN_LATER, refusal.reason)
            return
        with slot:  # released here too if the session never started
            transport = open_transport()
            self.sockets[socket] = transport
            await self.run_admitted_session(transport, request, slot, metadata, ended=ended)

    async def close(self) -> None:
        """Refuse new connections and close every open one with 1001 (going away)."""
        self.closing = True
        await asyncio.gather(*(self._going_away(s, t) for s, t in list(self.sockets.items())))

    @staticmethod
    async def _going_away(socket: MessageSocket, transport: T | None) -> None:
        if transport is None:
            await socket.close(CloseCode.GOING_AWAY, GOING_AWAY)
        else:
            await transport.close(CloseCode.GOING_AWAY, GOING_AWAY)

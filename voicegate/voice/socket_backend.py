"""What every backend that runs one session per WebSocket shares: the open sockets, and
closing them all when the server goes away."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from voicegate.voice.backend import VoiceBackend
from voicegate.voice.endpoint import MessageSocket
from voicegate.voice.protocol import GOING_AWAY, CloseCode
from voicegate.voice.transport import VoiceTransport

T = TypeVar("T", bound=VoiceTransport)


class SocketVoiceBackend(VoiceBackend, Generic[T]):
    """A backend served as a ``WebSocketEndpoint`` at ``path``, one session per socket.

    A subclass registers each socket it serves in :attr:`sockets`, with its transport
    once the session runs (``None`` before); :meth:`close` refuses new sockets
    (:attr:`closing`) and closes every open one with 1001.
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

"""Voice backends: the transports that accept voice connections, one session per connection."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from voicegate.voice.admission import SessionSlot
from voicegate.voice.auth import run_with_auth_context
from voicegate.voice.protocol import CloseCode
from voicegate.voice.transport import VoiceTransport


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """What an accepted connection asks for: its auth metadata and, optionally, a room and
    its own session settings (checked, by name; see ``SESSION_SETTINGS``).

    Without a ``participant_id`` the gateway takes the metadata's ``subject`` (what
    :class:`~voicegate.voice.tokens.TokenAuth` puts there); without a ``language``, the
    gateway's setting. ``record``: the call is to be recorded, done only where the gateway
    records calls (a WebSocket or WebRTC client asks for it; phone calls always ask, as
    their callers cannot).
    """

    metadata: dict[str, Any] = field(default_factory=dict)
    room_id: str | None = None
    participant_id: str | None = None
    settings: Mapping[str, object] = field(default_factory=dict)
    language: str | None = None
    record: bool = False


class SessionHandler(Protocol):
    """Who runs the sessions of accepted connections (the :class:`VoiceGateway`)."""

    def reserve(self) -> SessionSlot:
        """Take a slot for a new session now, before anything is awaited; raises
        :class:`~voicegate.voice.admission.CapacityError` when none is free."""
        ...

    async def run_session(
        self, transport: VoiceTransport, request: SessionRequest, slot: SessionSlot
    ) -> None:
        """Run one session in ``slot`` until its transport's audio ends; releases the slot."""
        ...

    def record_error(self, kind: str) -> None:
        """Count a refused connection or bad input: ``auth``, ``protocol``, ``offer``..."""
        ...

    def record_line_quality(
        self, transport: str, direction: str, lost_ratio: float, jitter_s: float
    ) -> None:
        """Record how a call's audio travelled one ``direction`` (``to_caller``, as the
        caller's RTCP reports say; ``from_caller``, as voicegate received it)."""
        ...


class VoiceBackend(ABC):
    """Accepts voice connections and hands each one, as a transport, to the session handler.

    A backend authenticates every connection before it accepts anything and runs the
    handler with :data:`voicegate.voice.auth.auth_context` set to the connection's
    metadata. ``RoomKit(voice=...)`` accepts any backend.
    """

    name: str

    def __init__(self) -> None:
        self._handler: SessionHandler | None = None

    def set_session_handler(self, handler: SessionHandler) -> None:
        """Choose who runs the sessions of accepted connections."""
        self._handler = handler

    @property
    def session_handler(self) -> SessionHandler:
        """The handler set with :meth:`set_session_handler`."""
        if self._handler is None:
            raise RuntimeError(f"{self.name} backend has no session handler: start a VoiceGateway")
        return self._handler

    async def run_admitted_session(
        self,
        transport: VoiceTransport,
        request: SessionRequest,
        slot: SessionSlot,
        metadata: dict[str, Any],
        *,
        ended: Callable[[], object] | None = None,
    ) -> None:
        """Run ``transport``'s session in ``slot`` through the session handler, with
        ``auth_context`` set to the connection's ``metadata``; when it ends (on every path)
        call ``ended`` and close the transport with 1000 ``session ended``."""
        try:
            await run_with_auth_context(
                metadata, self.session_handler.run_session, transport, request, slot
            )
        finally:
            if ended is not None:
                ended()
            await transport.close(CloseCode.NORMAL, "session ended")

    @property
    @abstractmethod
    def session_count(self) -> int:
        """Sessions open now."""

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Begin accepting connections (backends mounted on a server need nothing here)."""

    @abstractmethod
    async def close(self) -> None:
        """Tell every open session the server is going away and stop accepting connections."""

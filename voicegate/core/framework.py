"""Framework events: notices about the engine itself (room created, event blocked, ...)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from voicegate.core.models import utcnow

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class FrameworkEvent:
    """One notice from the engine, handed to the handlers registered with ``kit.on(type)``."""

    type: str
    room_id: str | None = None
    channel_id: str | None = None
    event_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=utcnow)


FrameworkHandler = Callable[[FrameworkEvent], Awaitable[None]]


class FrameworkEmitter:
    """Calls the handlers of a framework event type in registration order.

    A handler that raises is logged; the exception never reaches the emitter's caller.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, list[FrameworkHandler]] = {}

    def on(self, event_type: str) -> Callable[[FrameworkHandler], FrameworkHandler]:
        """Decorator registering an async handler for ``event_type``."""

        def register(handler: FrameworkHandler) -> FrameworkHandler:
            self._handlers.setdefault(event_type, []).append(handler)
            return handler

        return register

    def has_handlers(self, event_type: str) -> bool:
        """Whether anything listens to ``event_type``."""
        return event_type in self._handlers

    async def emit(
        self,
        event_type: str,
        *,
        room_id: str | None = None,
        channel_id: str | None = None,
        event_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Build a :class:`FrameworkEvent` and await every handler of its type."""
        handlers = self._handlers.get(event_type)
        if not handlers:
            return
        event = FrameworkEvent(event_type, room_id, channel_id, event_id, data or {})
        for handler in handlers:
            try:
                await handler(event)
            except Exception:
                logger.exception("framework handler for %r failed", event_type)

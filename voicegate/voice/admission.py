"""Admission: a session's slot is taken before anything is awaited, and only with capacity.

:meth:`Admission.reserve` counts the session at once, with no ``await`` between the check
and the count, so connections that arrive together cannot all pass a check meant for one.
It refuses (:class:`CapacityError`, which clients see as close code 1013 or HTTP 503) with
``server_busy`` when ``max_sessions`` slots are taken, and with ``overloaded`` when the
recogniser is at capacity by its measured load: final transcripts waited longer than
``max_final_wait`` seconds (on average over the last seconds, or the oldest one waiting
now), or transcribing finals alone took more than ``max_final_busy`` of the recogniser's
time. Sessions already admitted are never dropped for load: their finals wait their turn.
A :class:`SessionSlot` is released when its session ends, on every path (``with slot:``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType

from voicegate.errors import RoomKitError
from voicegate.inference import Pressure

logger = logging.getLogger(__name__)

SERVER_BUSY = "server_busy"
OVERLOADED = "overloaded"


class CapacityError(RoomKitError):
    """No session is admitted now; ``reason`` is ``server_busy`` or ``overloaded``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SessionSlot:
    """One admitted session's place (counted by :meth:`Admission.reserve`);
    :meth:`release` (or leaving ``with``) frees it once."""

    def __init__(self, admission: Admission) -> None:
        self._admission: Admission | None = admission

    def release(self) -> None:
        """Free the slot; later calls do nothing."""
        admission, self._admission = self._admission, None
        if admission is not None:
            admission.taken -= 1

    def hand_over(self) -> SessionSlot:
        """A slot holding this one's place, for whoever outlives this one's holder; this
        one no longer releases it."""
        admission, self._admission = self._admission, None
        if admission is None:
            raise RuntimeError("the slot was already released or handed over")
        return SessionSlot(admission)

    def __enter__(self) -> SessionSlot:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class Admission:
    """Session slots under ``max_sessions`` and the recogniser's capacity (module docstring)."""

    def __init__(
        self,
        max_sessions: int,
        pressure: Callable[[], Pressure | None],
        *,
        max_final_wait: float = 1.0,
        max_final_busy: float = 0.8,
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        self.max_sessions = max_sessions
        self.taken = 0
        """Slots reserved and not yet released."""
        self._pressure = pressure
        self._max_final_wait = max_final_wait
        self._max_final_busy = max_final_busy

    def reserve(self) -> SessionSlot:
        """Take a slot now, or raise :class:`CapacityError`."""
        if self.taken >= self.max_sessions:
            raise CapacityError(SERVER_BUSY, f"{self.taken} sessions open (max_sessions)")
        overload = self.overload()
        if overload is not None:
            logger.warning("refusing a session: %s", overload)
            raise CapacityError(OVERLOADED, overload)
        self.taken += 1
        return SessionSlot(self)

    def accepting(self) -> bool:
        """Whether :meth:`reserve` would admit a session now."""
        return self.taken < self.max_sessions and self.overload() is None

    def overload(self) -> str | None:
        """Why the recogniser is at capacity now, or None."""
        pressure = self._pressure()
        if pressure is None:
            return None
        if pressure.wait_s > self._max_final_wait:
            return (
                f"final transcripts wait {pressure.wait_s:.2f} s for the recogniser "
                f"(limit {self._max_final_wait:g} s; {pressure.waiting} waiting)"
            )
        if pressure.required_busy > self._max_final_busy:
            return (
                f"final transcripts take {pressure.required_busy:.0%} of the recogniser's "
                f"time (limit {self._max_final_busy:.0%})"
            )
        return None

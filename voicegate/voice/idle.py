"""Whether a caller has gone quiet for too long: one session's ``idle_timeout_ms`` watch."""

from __future__ import annotations


class IdleWatch:
    """Says once that a caller has been idle (not speaking while the floor is ``listening``)
    for ``limit_s`` seconds of their audio; with a limit of 0, never."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._active_at = 0.0  # stream time of the latest speech or answer
        self._said = False

    def idle_now(self, now: float, *, active: bool) -> bool:
        """The caller's audio reached ``now`` (stream seconds), ``active`` (speech, or an
        answer on the floor) or not: whether the caller has just become idle (once)."""
        if active:
            self._active_at = now
            return False
        if self.limit_s and not self._said and now - self._active_at >= self.limit_s:
            self._said = True
            return True
        return False

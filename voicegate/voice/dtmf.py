"""Keys a caller presses on a phone (DTMF)."""

from __future__ import annotations

from dataclasses import dataclass

DTMF_DIGITS = "0123456789*#ABCD"
"""The sixteen DTMF keys, in RFC 4733's event-code order (0-9, then *, #, A-D)."""


@dataclass(frozen=True, slots=True)
class DTMFDigit:
    """One key press: the ``digit`` (one of :data:`DTMF_DIGITS`), how long it was held, and
    how it arrived (``source``: ``rfc4733``, ``sip_info`` or ``twilio``)."""

    digit: str
    duration_ms: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in DTMF_DIGITS:
            raise ValueError(f"{self.digit!r} is not a DTMF key (one of {DTMF_DIGITS})")

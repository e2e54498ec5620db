"""Inbound rate limiting: token buckets per channel id."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class RateLimit:
    """Most messages allowed per second, minute and hour (None: no limit on that scale)."""

    max_per_second: float | None = None
    max_per_minute: float | None = None
    max_per_hour: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_per_second", "max_per_minute", "max_per_hour"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"RateLimit.{name} must be positive, got {value}")


class _Bucket:
    """Holds up to ``capacity`` tokens, refilled continuously at ``rate`` per second."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now


class RateLimiter:
    """Admits a message for a key when every scale of the limit has a token left.

    Refill is fractional, so ``max_per_minute=30`` admits one message every two seconds
    once the burst of 30 is spent.
    """

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic) -> None:
        self._scales = [
            (float(cap), float(cap) / seconds)
            for cap, seconds in (
                (limit.max_per_second, 1.0),
                (limit.max_per_minute, 60.0),
                (limit.max_per_hour, 3600.0),
            )
            if cap is not None
        ]
        self._clock = clock
        self._buckets: dict[str, list[_Bucket]] = {}

    def allow(self, key: str) -> bool:
        """Take a token from each of ``key``'s buckets; False (nothing taken) if one is empty."""
        now = self._clock()
        buckets = self._buckets.get(key)
        if buckets is None:
            buckets = self._buckets[key] = [_Bucket(cap, rate, now) for cap, rate in self._scales]
        for bucket in buckets:
            bucket.refill(now)
        if any(bucket.tokens < 1.0 for bucket in buckets):
            return False
        for bucket in buckets:
            bucket.tokens -= 1.0
        return True

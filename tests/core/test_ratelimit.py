"""Token buckets: fractional refill, several scales, per-key isolation."""

from __future__ import annotations

import pytest

from voicegate import RateLimit
from voicegate.core.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_thirty_per_minute_admits_one_every_two_seconds() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(max_per_minute=30), clock)
    assert all(limiter.allow("sms") for _ in range(30))
    assert not limiter.allow("sms")
    clock.now = 1.0
    assert not limiter.allow("sms")
    clock.now = 2.0
    assert limiter.allow("sms")
    assert not limiter.allow("sms")
    assert limiter.allow("other-channel")


def test_every_scale_must_have_a_token() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(max_per_second=2, max_per_hour=3), clock)
    assert [limiter.allow("k") for _ in range(3)] == [True, True, False]
    clock.now = 1.0
    assert [limiter.allow("k") for _ in range(2)] == [True, False]


def test_non_positive_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="max_per_minute"):
        RateLimit(max_per_minute=0)

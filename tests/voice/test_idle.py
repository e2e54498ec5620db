"""The idle watch: once, after the limit of the caller's audio with no speech and no answer."""

from __future__ import annotations

from voicegate.voice.idle import IdleWatch


def test_the_watch_says_idle_once_after_the_limit_of_inactivity() -> None:
    watch = IdleWatch(1.0)
    assert not watch.idle_now(0.5, active=True)
    assert not watch.idle_now(1.4, active=False)  # 0.9 s since the speech
    assert watch.idle_now(1.5, active=False)
    assert not watch.idle_now(3.0, active=False)  # said once


def test_activity_restarts_the_count_and_a_limit_of_zero_never_says_idle() -> None:
    watch = IdleWatch(1.0)
    assert not watch.idle_now(0.9, active=False)
    assert not watch.idle_now(1.0, active=True)
    assert not watch.idle_now(1.9, active=False)
    assert watch.idle_now(2.0, active=False)
    never = IdleWatch(0.0)
    assert not any(never.idle_now(t, active=False) for t in (1.0, 100.0))

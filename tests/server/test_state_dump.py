"""What a stuck server was waiting for: the dump, and a shutdown that gives up."""

from __future__ import annotations

import asyncio
import logging

import pytest

from voicegate.server.state_dump import dump, finish_within


async def _stuck_in_a_store_close(forever: asyncio.Event) -> None:
    await forever.wait()


async def test_a_close_that_never_finishes_is_given_up_with_what_it_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "voicegate.server.state_dump")
    forever = asyncio.Event()

    assert not await finish_within(_stuck_in_a_store_close(forever), 0.05, "closing")

    assert "closing did not finish within 0.05 s: giving up on it" in caplog.text
    # the dump names the stuck task and where it waits, down its awaits, before it is cancelled
    assert "--- task closing" in caplog.text
    assert "in _stuck_in_a_store_close" in caplog.text
    assert "locks.py" in caplog.text  # the Event it awaits
    assert len(asyncio.all_tasks()) == 1  # it was cancelled: only the test's own task is left


async def test_a_close_that_fails_raises_its_error() -> None:
    async def failing() -> None:
        raise ConnectionError("the store is gone")

    with pytest.raises(ConnectionError, match="the store is gone"):
        await finish_within(failing(), 5.0, "closing")


async def test_a_close_that_finishes_in_time_says_so_and_logs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "voicegate.server.state_dump")
    assert await finish_within(asyncio.sleep(0), 5.0, "closing")
    assert caplog.text == ""


async def test_the_dump_names_every_task_and_thread(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "voicegate.server.state_dump")
    task = asyncio.current_task()
    assert task is not None
    task.set_name("the-test")
    dump()
    assert "--- task the-test" in caplog.text
    assert "in test_the_dump_names_every_task_and_thread" in caplog.text
    assert "--- thread MainThread" in caplog.text

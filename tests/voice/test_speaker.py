"""The speaker after its session ends: an answer that arrives late is not spoken, and no task
of the speaker's is left pending to be destroyed ("Task was destroyed but it is pending")."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from voicegate.testing import MemoryTransport, ToneTTS
from voicegate.voice.notices import AnswerEnded, AnswerStarted, Notice
from voicegate.voice.speaker import Answer, Speaker


class StalledTransport(MemoryTransport):
    """A client that stopped playing: what is queued never plays out, with no deadline (as
    a real socket whose peer went away), so a task waiting on it waits for good."""

    def __init__(self) -> None:
        super().__init__()
        self._never = asyncio.Event()

    async def wait_played(self) -> None:
        await self._never.wait()


async def _let_run() -> None:
    """Let every ready task run until it waits (a late answer, if spoken, is then stalled)."""
    for _ in range(20):
        await asyncio.sleep(0)


def _destroyed_pending(caplog: pytest.LogCaptureFixture) -> list[str]:
    messages = [record.getMessage() for record in caplog.records]
    return [message for message in messages if "destroyed but it is pending" in message]


async def _answer_after_close() -> tuple[bool, list[Notice]]:
    """A speaker closed while it speaks, then given an answer: whether it is speaking, and
    what its client was told. The speaker and its transport are garbage once this returns."""
    transport = StalledTransport()
    speaker = Speaker(ToneTTS(), transport)
    speaker.say(Answer("the first answer", "e1", "r1"))
    await transport.wait_until(lambda: transport.played != [], "the first answer's audio")
    await speaker.close()
    speaker.say(Answer("an answer delivered while the session left", "e2", "r2"))
    await _let_run()
    return speaker.speaking, transport.notices


async def test_an_answer_after_close_is_not_spoken_and_leaves_no_pending_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        speaking, told = await _answer_after_close()
        gc.collect()
    assert not speaking
    assert told == [
        AnswerStarted("the first answer", "e1", "r1"),
        AnswerEnded("e1", interrupted=True, response_id="r1"),
    ]
    assert _destroyed_pending(caplog) == []

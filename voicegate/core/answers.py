"""Answers streamed in parts: one background task per answer, cancellable between parts.

A part being committed is never cut in half: cancelling an answer stops it while it
waits for its next part, or right after the part in progress is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from voicegate.core.channels import AnswerParts, ChannelOutput

logger = logging.getLogger(__name__)

CommitPart = Callable[[ChannelOutput, int], Awaitable[bool]]
"""Commits part ``n`` of an answer; returns False when the answer cannot go on (room gone)."""


class AnswerRelay(Protocol):
    """Reaches the answers streaming in other processes that share the rooms (through Redis:
    ``voicegate.redis.answers.RedisAnswerRelay``)."""

    async def cancel_elsewhere(self, response_id: str) -> bool:
        """Stop ``response_id`` in whichever other process streams it; return once it has
        stopped (True), or False when no other process streams it."""
        ...


@dataclass(slots=True, eq=False)
class _Streaming:
    response_id: str
    room_id: str
    channel_id: str
    task: asyncio.Task[None] | None = None
    waiting_for_part: bool = False
    cancelled: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class AnswerStreams:
    """The answers streaming now, by response id."""

    def __init__(self) -> None:
        self._streaming: dict[str, _Streaming] = {}

    def start(
        self,
        response_id: str,
        room_id: str,
        channel_id: str,
        parts: AnswerParts,
        commit: CommitPart,
        *,
        replace: bool,
    ) -> None:
        """Commit ``parts`` in the background; ``replace`` cancels the channel's other
        answers streaming in the room."""
        if replace:
            for other in list(self._streaming.values()):
                if other.room_id == room_id and other.channel_id == channel_id:
                    self._request_cancel(other)
        streaming = _Streaming(response_id, room_id, channel_id)
        self._streaming[response_id] = streaming
        streaming.task = asyncio.create_task(
            self._consume(streaming, parts, commit), name=f"answer-{response_id}"
        )

    async def cancel(self, response_id: str) -> bool:
        """Stop the answer ``response_id`` and return once it has stopped; False if it is
        not streaming."""
        streaming = self._streaming.get(response_id)
        if streaming is None:
            return False
        self._request_cancel(streaming)
        if streaming.task is not asyncio.current_task():
            await streaming.done.wait()
        return True

    async def wait(self, room_id: str | None = None) -> None:
        """Return once no answer streams (in ``room_id``, or anywhere)."""
        while running := [
            s for s in self._streaming.values() if room_id is None or s.room_id == room_id
        ]:
            await asyncio.gather(*(s.done.wait() for s in running))

    async def close(self) -> None:
        """Cancel every answer and wait for them to stop."""
        for streaming in list(self._streaming.values()):
            self._request_cancel(streaming)
        await self.wait()

    @staticmethod
    def _request_cancel(streaming: _Streaming) -> None:
        streaming.cancelled = True
        if streaming.waiting_for_part and streaming.task is not None:
            streaming.task.cancel()

    async def _consume(self, streaming: _Streaming, parts: AnswerParts, commit: CommitPart) -> None:
        try:
            number = 0
            while not streaming.cancelled:
                streaming.waiting_for_part = True
                try:
                    output = await anext(parts)
                except StopAsyncIteration:
                    break
                finally:
                    streaming.waiting_for_part = False
                if not await commit(output, number):
                    break
                number += 1
        except asyncio.CancelledError:
            if not streaming.cancelled:
                raise
        except Exception:
            logger.exception(
                "channel %s: answer %s failed", streaming.channel_id, streaming.response_id
            )
        finally:
            if isinstance(parts, AsyncGenerator):
                await _close(parts, streaming)
            del self._streaming[streaming.response_id]
            streaming.done.set()


async def _close(parts: AsyncGenerator[ChannelOutput, None], streaming: _Streaming) -> None:
    try:
        await parts.aclose()
    except Exception:
        logger.exception(
            "channel %s: closing answer %s failed", streaming.channel_id, streaming.response_id
        )

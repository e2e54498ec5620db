"""Barge-in across processes: cancelling an answer that streams in another process.

An answer streams in the process whose responder answered (the one that committed the
transcript), but any caller of the room may interrupt it, on any process. When
``RoomKit.cancel_response`` finds the answer not streaming here, the
:class:`RedisAnswerRelay` publishes a cancel on one Redis pub/sub channel; every other
process cancels the answer if it streams there (``RoomKit.cancel_local_response``) and
replies whether it did, once the answer has stopped. The asker returns at the first
"stopped" reply, or when every process that received the cancel (the count ``PUBLISH``
returns) replied that it had no such answer, or after ``timeout`` seconds.

Messages (JSON): ``{"cancel": response_id, "ask": id, "from": process}`` and the reply
``{"answer": id, "to": process, "found": bool}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from voicegate.redis.client import connect

logger = logging.getLogger(__name__)

CANCEL_TIMEOUT_S = 5.0
"""How long a cancel waits for the other processes' replies."""

RETRY_S = 0.5
"""Pause between attempts to read Redis again after it failed."""


class CancelSink(Protocol):
    """Where the other processes' cancels go: a ``RoomKit``."""

    async def cancel_local_response(self, response_id: str) -> bool: ...

    def relay_answers(self, relay: Any) -> None: ...


@dataclass(slots=True, eq=False)
class _Ask:
    """A cancel waiting for its replies; ``expected`` is known once PUBLISH returned."""

    settled: asyncio.Future[bool] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    replies: int = 0
    expected: int | None = None

    def reply(self, found: bool) -> None:
        self.replies += 1
        if found:
            self._settle(True)
        self.check()

    def check(self) -> None:
        if self.expected is not None and self.replies >= self.expected:
            self._settle(False)

    def _settle(self, found: bool) -> None:
        if not self.settled.done():
            self.settled.set_result(found)


class RedisAnswerRelay:
    """The ``AnswerRelay`` of processes sharing one Redis server: cancels answers that
    stream in other processes, and cancels this process's answers when they ask.

    Call :meth:`start` with the kit (it registers itself with ``kit.relay_answers``);
    :meth:`close` at the end.
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str = "voicegate:answers",
        timeout: float = CANCEL_TIMEOUT_S,
    ) -> None:
        self._url = url
        self._channel = channel
        self._timeout = timeout
        self._origin = uuid.uuid4().hex
        self._sink: CancelSink | None = None
        self._client: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._asks: dict[str, _Ask] = {}
        self._serving: set[asyncio.Task[None]] = set()

    async def start(self, sink: CancelSink) -> None:
        """Subscribe to the cancels and replies, and relay ``sink``'s cancels."""
        self._sink = sink
        self._client = connect(self._url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel)
        self._reader = asyncio.create_task(self._read(), name="voicegate-answer-relay")
        sink.relay_answers(self)

    async def close(self) -> None:
        """Stop relaying and close the Redis connections."""
        if self._sink is not None:
            self._sink.relay_answers(None)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._serving:
            await asyncio.gather(*self._serving, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
            await self._client.aclose()
            self._pubsub = self._client = None

    async def cancel_elsewhere(self, response_id: str) -> bool:
        """Stop ``response_id`` in the process that streams it; True once it stopped,
        False when none does (or none replied within ``timeout``)."""
        if self._client is None:
            return False
        ask_id = uuid.uuid4().hex
        ask = self._asks[ask_id] = _Ask()
        message = {"cancel": response_id, "ask": ask_id, "from": self._origin}
        try:
            receivers = await self._client.publish(self._channel, _encode(message))
            ask.expected = int(receivers) - 1  # this process hears its own cancel too
            ask.check()
            async with asyncio.timeout(self._timeout):
                return await ask.settled
        except TimeoutError:
            logger.warning(
                "cancel of answer %s: %d of %s processes replied within %.1f s",
                response_id,
                ask.replies,
                ask.expected,
                self._timeout,
            )
            return False
        except Exception as exc:
            logger.warning("cancel of answer %s not sent to other processes: %s", response_id, exc)
            return False
        finally:
            del self._asks[ask_id]

    async def _read(self) -> None:
        lost = False
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not lost:
                    logger.warning("lost the answer relay's Redis connection (%s); retrying", exc)
                lost = True
                await asyncio.sleep(RETRY_S)
                continue
            lost = False
            if message is not None:
                self._take(message["data"])

    def _take(self, payload: bytes | str) -> None:
        try:
            message = json.loads(payload)
            if "cancel" in message:
                response_id, ask_id, origin = (
                    str(message["cancel"]),
                    str(message["ask"]),
                    str(message["from"]),
                )
                if origin != self._origin:
                    self._serve(response_id, ask_id, origin)
            elif message["to"] == self._origin:
                ask = self._asks.get(str(message["answer"]))
                if ask is not None:
                    ask.reply(bool(message["found"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed answer relay message %r", payload)

    def _serve(self, response_id: str, ask_id: str, origin: str) -> None:
        """Cancel the answer if it streams here, then reply (in the background: the reader
        goes on while the answer's part in progress is committed)."""
        task = asyncio.create_task(self._cancel_here(response_id, ask_id, origin))
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _cancel_here(self, response_id: str, ask_id: str, origin: str) -> None:
        found = False
        try:
            if self._sink is not None:
                found = await self._sink.cancel_local_response(response_id)
            if found:
                logger.info("answer %s cancelled at another process's request", response_id)
            reply = {"answer": ask_id, "to": origin, "found": found}
            await self._client.publish(self._channel, _encode(reply))
        except Exception as exc:
            logger.warning(
                "cancel of answer %s (found here: %s) not answered: %s", response_id, found, exc
            )


def _encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))

"""What a benchmark caller is: the :class:`Caller` interface and the base of every caller,
which connects with the client that places its call."""

from __future__ import annotations

import bisect
from abc import abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from voicegate.bench.connection import Connection
from voicegate.bench.speech import SpeechClip
from voicegate.bench.turns import TurnResult

T = TypeVar("T")


class Caller(AbstractAsyncContextManager["Caller"], Protocol):
    """A connected voice session that speaks clips and records what comes back.

    A turn is known by when it began (``since``, ``time.monotonic()``): its caller spoke
    after that, and what came back since belongs to it.
    """

    async def speak(self, clip: SpeechClip) -> float:
        """Play ``clip`` in real time; return when its last speech sample was sent."""

    def answered(self, since: float) -> bool:
        """Whether answer audio arrived at ``since`` or later."""

    def turn_finished(self, since: float) -> bool:
        """Whether the turn that began at ``since`` is over (its answer played)."""

    def answer_ended(self, since: float) -> float | None:
        """When the answer of the turn that began at ``since`` ended at the caller, once
        :meth:`turn_finished` (None if it never began): each kind of caller learns of the
        end differently, some later than others, and the next turn counts from this."""

    def measure(self, result: TurnResult, since: float, speech_end: float) -> None:
        """Fill ``result`` with the figures of the turn that began at ``since``."""


class ClientCaller(Connection):
    """A caller that connects and disconnects with the client :meth:`_dial` gives it."""

    _connection: Connection | None = None

    @abstractmethod
    async def _dial(self) -> Connection:
        """The client that places this call, not yet connected."""

    async def open(self) -> None:
        """Connect the client of this call."""
        connection = await self._dial()
        await connection.open()
        self._connection = connection

    async def close(self) -> None:
        """Hang up."""
        if self._connection is not None:
            await self._connection.close()


def arrived_since(
    received: Sequence[T], since: float, arrived: Callable[[T], float]
) -> Sequence[T]:
    """What of ``received`` (in arrival order) arrived at ``since`` or later."""
    return received[bisect.bisect_left(received, since, key=arrived) :]

"""What the benchmark's clients share as ``async with``: entering connects, leaving closes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self


class Connection(ABC):
    """Used as ``async with``: entering awaits :meth:`open`, leaving awaits :meth:`close`."""

    @abstractmethod
    async def open(self) -> None:
        """Connect (place the call); on failure, release what was taken, then raise."""

    @abstractmethod
    async def close(self) -> None:
        """Hang up and release what :meth:`open` took."""

    async def _closing_on_failure(self, connect: Callable[[], Awaitable[None]]) -> None:
        """Await ``connect()``; if it fails, :meth:`close` before raising (an :meth:`open`
        whose :meth:`close` releases whatever part of it was done)."""
        try:
            await connect()
        except BaseException:
            await self.close()
            raise

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

"""``MemoryTransport``: a voice transport in memory that records all it is given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from voicegate.audio.frame import AudioFrame
from voicegate.voice.client_messages import ClientMessage, Interrupt
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.notices import Notice
from voicegate.voice.transport import VoiceTransport

N = TypeVar("N", bound=Notice)

WAIT_LIMIT_S = 10.0
"""How long :meth:`MemoryTransport.wait_until` waits before it fails (a hang, not a timing)."""


class MemoryTransport(VoiceTransport):
    """A client in memory: the test pushes audio in, the session's notices and answer audio
    are recorded in order.

    Playout is instant unless ``hold_playout``: then an answer counts as playing until the
    test calls :meth:`finish_playout` (or the session flushes it), which is how a test
    speaks over an answer.
    """

    kind = "memory"

    def __init__(
        self,
        input_rate: int = 16000,
        input_channels: int = 1,
        output_rate: int = 16000,
        *,
        hold_playout: bool = False,
    ) -> None:
        self._input_rate = input_rate
        self._input_channels = input_channels
        self._output_rate = output_rate
        self.hold_playout = hold_playout
        self.notices: list[Notice] = []
        self.played: list[AudioFrame] = []
        self.flushes = 0
        self.session_id: str | None = None
        self.room_id: str | None = None
        self.closed_with: tuple[int, str] | None = None
        self._inbound: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._pushed = 0
        self._taken = 0
        self._played_out = 0  # frames of ``played`` that count as heard or dropped
        self._changed = asyncio.Event()

    @property
    def input_rate(self) -> int:
        return self._input_rate

    @property
    def input_channels(self) -> int:
        return self._input_channels

    @property
    def output_rate(self) -> int:
        return self._output_rate

    # ---- the session's side ------------------------------------------------------------

    async def opened(self, session_id: str, room_id: str) -> None:
        self.session_id, self.room_id = session_id, room_id
        self._notify_waiters()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        while (frame := await self._inbound.get()) is not None:
            yield frame
            self._taken += 1  # the session has handled the frame and asks for the next
            self._notify_waiters()

    async def play(self, frame: AudioFrame) -> None:
        self.played.append(frame)
        if self.played_handler is not None:
            self.played_handler(frame)
        if not self.hold_playout:
            self._played_out = len(self.played)
        self._notify_waiters()

    def flush(self) -> None:
        self.flushes += 1
        self._played_out = len(self.played)
        self._notify_waiters()

    async def wait_played(self) -> None:
        target = len(self.played)
        await self.wait_until(lambda: self._played_out >= target)

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)
        self._notify_waiters()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed_with is None:
            self.closed_with = (code, reason)
            self._inbound.put_nowait(None)
        self._notify_waiters()

    # ---- the test's side ---------------------------------------------------------------

    def push(self, frame: AudioFrame) -> None:
        """Send ``frame`` as the client would (at :attr:`input_rate`)."""
        self._pushed += 1
        self._inbound.put_nowait(frame)

    def end(self) -> None:
        """The client goes away: the session's audio ends."""
        self._inbound.put_nowait(None)

    async def drained(self) -> None:
        """Return once the session has handled every frame pushed so far, or has ended."""
        await self.wait_until(lambda: self._taken >= self._pushed or self.closed_with is not None)

    async def interrupt(self) -> None:
        """Ask the session to stop the answer playing, as the client's ``interrupt`` does."""
        await self.send(Interrupt())

    async def send(self, message: ClientMessage) -> None:
        """Send ``message`` as the client would (``played``, ``say``...)."""
        if self.message_handler is not None:
            await self.message_handler(message)

    def press(self, digit: str, duration_ms: float = 100.0) -> None:
        """Press a key (DTMF) as a phone caller would."""
        if self.dtmf_handler is not None:
            self.dtmf_handler(DTMFDigit(digit, duration_ms, "memory"))

    def finish_playout(self) -> None:
        """Everything played so far has been heard (with ``hold_playout``)."""
        self._played_out = len(self.played)
        self._notify_waiters()

    def of_type(self, kind: type[N]) -> list[N]:
        """The notices of ``kind`` so far, in order."""
        return [notice for notice in self.notices if isinstance(notice, kind)]

    async def wait_for(self, kind: type[N], count: int = 1) -> N:
        """The ``count``-th notice of ``kind``, once it has come."""
        await self.wait_until(lambda: len(self.of_type(kind)) >= count, f"{count} x {kind}")
        return self.of_type(kind)[count - 1]

    async def wait_until(self, done: Callable[[], bool], what: str = "") -> None:
        """Return once ``done()`` holds; fails after :data:`WAIT_LIMIT_S` (the session hung)."""
        try:
            async with asyncio.timeout(WAIT_LIMIT_S):
                while not done():
                    changed = self._changed
                    await changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"waited {WAIT_LIMIT_S} s for {what or done}; notices so far: {self.notices}"
            ) from None

    def _notify_waiters(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

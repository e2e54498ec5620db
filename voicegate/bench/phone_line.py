"""The caller's end of a line: a chunk every 20 ms in real time, speech when there is some.

:class:`PacedLine` carries any 20 ms chunks (the WebSocket client's PCM frames);
:class:`PhoneLine` is a phone's, µ-law at 8 kHz.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.audio.g711 import ULAW

RATE = 8000
CHUNK_SAMPLES = RATE * FRAME_MS // 1000


class PacedLine:
    """Queued chunks go out one every 20 ms in real time; ``silence`` fills the rest."""

    def __init__(self, silence: bytes) -> None:
        self._silence = silence
        self._queue: deque[tuple[bytes, asyncio.Future[float] | None]] = deque()

    def queue(self, chunks: Sequence[bytes]) -> asyncio.Future[float]:
        """Queue ``chunks``; the future holds the monotonic time the last one was sent."""
        if not chunks:
            raise ValueError("nothing to play")
        sent = asyncio.get_running_loop().create_future()
        self._queue.extend((chunk, None) for chunk in chunks[:-1])
        self._queue.append((chunks[-1], sent))
        return sent

    async def run(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        """Hand ``send`` a chunk every 20 ms, until cancelled (or ``send`` raises)."""
        started, index = time.monotonic(), 0
        while True:
            chunk, sent = self._queue.popleft() if self._queue else (self._silence, None)
            await send(chunk)
            if sent is not None:
                sent.set_result(time.monotonic())
            index += 1
            await asyncio.sleep(max(0.0, started + index * FRAME_MS / 1000 - time.monotonic()))


class PhoneLine(PacedLine):
    """A phone line: 20 ms of µ-law every 20 ms, silence when nobody speaks."""

    def __init__(self) -> None:
        super().__init__(ULAW.encode(np.zeros(CHUNK_SAMPLES, np.int16)))

    async def speak(self, audio: AudioFrame) -> float:
        """Queue 8 kHz mono ``audio``; returns the monotonic time its last chunk was sent."""
        codes = ULAW.encode(audio.samples)
        codes += ULAW.encode(np.zeros(-len(codes) % CHUNK_SAMPLES, np.int16))
        chunks = [codes[i : i + CHUNK_SAMPLES] for i in range(0, len(codes), CHUNK_SAMPLES)]
        return float(await self.queue(chunks))

"""Audio queued for one client, played out in real time and flushed at once on barge-in."""

from __future__ import annotations

import asyncio
from collections import deque

import numpy as np
import numpy.typing as npt

from voicegate.errors import RoomKitError

Samples = npt.NDArray[np.int16]

PLAY_AHEAD_S = 10.0
"""How far ahead of playback a transport queues answer audio; a faster producer (speech
synthesis) waits in ``VoiceTransport.play`` until the client has played more."""


class PlayoutOverflowError(RoomKitError):
    """More audio was queued than the buffer may hold."""


class PlayoutBuffer:
    """A bounded FIFO of mono int16 samples at one sample rate.

    Producers ``push`` whole chunks; a paced consumer ``pull``\\ s fixed-size frames.
    ``flush`` drops everything queued (barge-in); ``wait_drained`` returns once
    everything pushed so far has been pulled or flushed; ``wait_room`` holds a producer
    faster than real time back.
    """

    def __init__(self, sample_rate: int, max_seconds: float = 60.0) -> None:
        if sample_rate <= 0:
            raise ValueError(f"sample rate must be positive, not {sample_rate}")
        self.sample_rate = sample_rate
        self._max_samples = int(max_seconds * sample_rate)
        self._chunks: deque[Samples] = deque()
        self._offset = 0  # samples already pulled from the first chunk
        self._queued = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._has_audio = asyncio.Event()
        self._pulled = asyncio.Event()

    @property
    def queued_samples(self) -> int:
        """Samples waiting to be played."""
        return self._queued

    @property
    def queued_seconds(self) -> float:
        """Seconds of audio waiting to be played."""
        return self._queued / self.sample_rate

    def push(self, samples: Samples) -> None:
        """Queue mono int16 samples; raises :class:`PlayoutOverflowError` past the bound."""
        if samples.ndim != 1:
            samples = samples.reshape(-1)
        if samples.size == 0:
            return
        if self._queued + samples.size > self._max_samples:
            raise PlayoutOverflowError(
                f"playout buffer full ({self.queued_seconds:.1f} s queued at {self.sample_rate} Hz)"
            )
        self._chunks.append(samples)
        self._queued += samples.size
        self._drained.clear()
        self._has_audio.set()

    def pull(self, count: int) -> Samples | None:
        """The next ``count`` samples, zero-padded at the end of the queue; ``None`` when empty."""
        if self._queued == 0:
            return None
        out = np.zeros(count, dtype=np.int16)
        filled = 0
        while filled < count and self._chunks:
            head = self._chunks[0]
            take = min(count - filled, head.size - self._offset)
            out[filled : filled + take] = head[self._offset : self._offset + take]
            filled += take
            self._offset += take
            if self._offset == head.size:
                self._chunks.popleft()
                self._offset = 0
        self._queued -= filled
        self._pulled.set()
        if self._queued == 0:
            self._drained.set()
            self._has_audio.clear()
        return out

    def flush(self) -> int:
        """Drop everything queued; returns how many samples were dropped."""
        dropped = self._queued
        self._chunks.clear()
        self._offset = 0
        self._queued = 0
        self._drained.set()
        self._has_audio.clear()
        self._pulled.set()
        return dropped

    async def wait_audio(self) -> None:
        """Return once there is audio to pull."""
        await self._has_audio.wait()

    async def wait_room(self, seconds: float = PLAY_AHEAD_S) -> None:
        """Return once at most ``seconds`` of audio are queued."""
        while self.queued_seconds > seconds:
            self._pulled.clear()
            await self._pulled.wait()

    async def wait_drained(self) -> None:
        """Return once the queue is empty (played out or flushed)."""
        await self._drained.wait()

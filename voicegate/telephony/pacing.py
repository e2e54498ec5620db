"""Answer audio sent to a phone call in real time, one 20 ms frame after another."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.voice.playout import PlayoutBuffer, Samples


class PacedOutput:
    """Pulls 20 ms frames from a :class:`PlayoutBuffer` and hands each to ``send`` on time.

    Frames go out ``lead`` seconds ahead of real time at most (a peer that buffers, like
    Twilio, can take a little ahead; RTP wants 0). With ``idle_silence`` the pacer sends
    silence while nothing is queued, as a phone line carries it. :meth:`pause` holds the
    audio back (a call on hold) without dropping it.
    """

    def __init__(
        self,
        sample_rate: int,
        send: Callable[[Samples], Awaitable[None]],
        *,
        lead: float = 0.0,
        idle_silence: bool = False,
    ) -> None:
        self.buffer = PlayoutBuffer(sample_rate)
        self._send = send
        self._lead = lead
        self._idle_silence = idle_silence
        self._frame_samples = sample_rate * FRAME_MS // 1000
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._task: asyncio.Task[None] | None = None
        self._due = 0.0  # when the audio sent so far will have been played

    @property
    def due(self) -> float:
        """When (event-loop time) the audio sent so far will have played."""
        return self._due

    def start(self, name: str) -> None:
        """Begin sending (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=name)

    async def stop(self) -> None:
        """Stop sending; what is queued is dropped."""
        self.buffer.flush()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def push(self, frame: AudioFrame) -> None:
        """Queue mono audio at the pacer's rate."""
        self.buffer.push(frame.samples.reshape(-1))

    def flush(self) -> None:
        """Drop what is queued (barge-in)."""
        self.buffer.flush()

    def pause(self) -> None:
        """Hold the queued audio back until :meth:`resume`."""
        self._resumed.clear()

    def resume(self) -> None:
        """Send again after :meth:`pause`."""
        self._resumed.set()

    async def wait_played(self) -> None:
        """Return once everything queued has been sent and its time has passed."""
        await self.buffer.wait_drained()
        remaining = self._due - asyncio.get_running_loop().time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        frame_s = FRAME_MS / 1000.0
        silence = np.zeros(self._frame_samples, np.int16)
        while True:
            if not self._resumed.is_set():
                await self._resumed.wait()
            chunk = self.buffer.pull(self._frame_samples)
            if chunk is None:
                if not self._idle_silence:
                    await self.buffer.wait_audio()
                    continue
                chunk = silence
            # After an idle gap or a stalled loop the frame plays from now: no burst to catch up.
            self._due = max(self._due, loop.time()) + frame_s
            await self._send(chunk)
            delay = self._due - self._lead - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)

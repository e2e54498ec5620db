"""The server's outbound WebRTC audio: a queue of PCM played out in real-time 20 ms frames."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.audio.resample import MonoConverter
from voicegate.voice.playout import PlayoutBuffer
from voicegate.voice.rtc.frames import to_av_frame

OUTPUT_SAMPLE_RATE = 48_000
FRAME_SAMPLES = OUTPUT_SAMPLE_RATE * FRAME_MS // 1000
_SILENCE = np.zeros((FRAME_SAMPLES, 2), dtype=np.int16)
_SILENCE.flags.writeable = False
MAX_BEHIND_S = 0.06
"""A track further behind its real-time position than this (its event loop stalled) skips
the frames it missed: their timestamps jump and the receiver conceals the gap. Sent late in a
burst, they made a browser's jitter buffer hold every later frame longer (205-438 ms on average
over a call at load 6-9, up to 760 ms; 83 ms skipping)."""


class PacedAudioTrack(MediaStreamTrack):
    """An audio track the server feeds with :meth:`push`; it plays 20 ms frames in real time.

    Pushed audio (any rate, mono or stereo) is downmixed, resampled to 48 kHz and queued in a
    bounded :class:`PlayoutBuffer`. While nothing is queued the track plays silence. Frames
    are 48 kHz stereo with both channels equal: aiortc's Opus encoder upmixes mono with a
    -3 dB pan law, stereo keeps the pushed level. They carry ``pts`` in samples with time base
    ``1/48000``; a track that fell over :data:`MAX_BEHIND_S` behind real time skips ``pts``
    ahead, no queued audio lost. :meth:`flush` drops everything queued at once (barge-in): the next
    frame the track emits is silent. ``on_played`` is called with each frame of queued
    audio as the track emits it.
    """

    kind = "audio"
    on_played: Callable[[AudioFrame], None] | None = None

    def __init__(self, max_queued_seconds: float = 60.0) -> None:
        super().__init__()
        self._playout = PlayoutBuffer(OUTPUT_SAMPLE_RATE, max_queued_seconds)
        self._converter = MonoConverter(OUTPUT_SAMPLE_RATE)
        self._start: float | None = None
        self._pts = 0

    @property
    def queued_seconds(self) -> float:
        """Seconds of audio queued and not yet played."""
        return self._playout.queued_seconds

    def push(self, frame: AudioFrame) -> None:
        """Queue ``frame`` after what is already queued.

        Raises :class:`~voicegate.voice.playout.PlayoutOverflowError` when more than
        ``max_queued_seconds`` would be queued: a producer faster than real time (TTS) keeps
        an eye on :attr:`queued_seconds`.
        Pushing to an ended track does nothing.
        """
        if self.readyState == "live":
            self._playout.push(self._converter.convert(frame).samples[:, 0])

    async def wait_room(self, seconds: float) -> None:
        """Return once at most ``seconds`` of audio are queued."""
        await self._playout.wait_room(seconds)

    def flush(self) -> float:
        """Drop all queued audio at once; returns the seconds dropped."""
        self._converter.reset()
        return self._playout.flush() / OUTPUT_SAMPLE_RATE

    async def drained(self) -> None:
        """Return once the queue is empty: everything pushed has been played or flushed."""
        await self._playout.wait_drained()

    def stop(self) -> None:
        """End the track; queued audio is dropped and :meth:`drained` waiters return."""
        super().stop()
        self.flush()

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms frame, due at its real-time position since the first call."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        else:
            self._pts += FRAME_SAMPLES
            behind = loop.time() - (self._start + self._pts / OUTPUT_SAMPLE_RATE)
            if behind > MAX_BEHIND_S:
                self._pts += round(behind * OUTPUT_SAMPLE_RATE) // FRAME_SAMPLES * FRAME_SAMPLES
            elif behind < 0:
                await asyncio.sleep(-behind)
        samples = self._playout.pull(FRAME_SAMPLES)
        if samples is not None and self.on_played is not None:
            self.on_played(AudioFrame(samples, OUTPUT_SAMPLE_RATE))
        stereo = _SILENCE if samples is None else np.repeat(samples.reshape(-1, 1), 2, axis=1)
        return to_av_frame(AudioFrame(stereo, OUTPUT_SAMPLE_RATE), self._pts)

"""Every session's inbound audio through batched audio paths, one per input format.

Sessions with the same input rate and channel count share one
:class:`~voicegate.audio.batch.BatchInboundPath`, whose rows advance in lockstep.
A pass runs as soon as every row of a group has a whole frame buffered, so a lone
session is processed the moment its audio arrives. When a group has not advanced for
``max_wait_ms``, rows with nothing buffered are fed silence, as a muted microphone
would be: time goes on for every session, so an utterance ends even when a client
stops sending, and the group stops waiting for such a stalled row until it sends
again. Audio beyond ``max_buffer_ms`` is dropped, oldest first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voicegate.audio.batch import BatchInboundPath
from voicegate.audio.frame import AudioFrame
from voicegate.audio.vad import VADProvider

logger = logging.getLogger(__name__)

FrameHandler = Callable[[AudioFrame, bool, float], None]
"""Receives one 16 kHz mono frame of a session, its speech decision and its level (dBFS)."""


@dataclass(slots=True)
class _Row:
    handler: FrameHandler
    start_time: float
    chunks: list[npt.NDArray[np.int16]] = field(default_factory=list)
    buffered: int = 0
    dropped: int = 0
    stalled: bool = False  # fed silence: the group no longer waits for it
    dropping: bool = False  # inside a backlog episode (logged once)

    def take(self, count: int, channels: int) -> npt.NDArray[np.int16]:
        if self.buffered < count:
            self.stalled = True
            return np.zeros((count, channels), dtype=np.int16)
        joined = np.concatenate(self.chunks) if len(self.chunks) > 1 else self.chunks[0]
        rest = joined[count:]
        self.chunks = [rest] if rest.size else []
        self.buffered -= count
        return joined[:count]


@dataclass(slots=True)
class _Group:
    path: BatchInboundPath
    frame_samples: int
    last_pass: float
    rows: dict[str, _Row] = field(default_factory=dict)
    stream_time: float = 0.0


class InboundMixer:
    """Runs the inbound audio path (downmix, resample to 16 kHz, level, VAD) for all sessions."""

    out_rate = 16000

    def __init__(
        self,
        vad: VADProvider,
        frame_ms: int = 20,
        max_wait_ms: int = 60,
        max_buffer_ms: int = 500,
    ) -> None:
        self._vad = vad
        self._frame_ms = frame_ms
        self._max_wait = max_wait_ms / 1000.0
        self._max_buffer_ms = max_buffer_ms
        self._groups: dict[tuple[int, int], _Group] = {}
        self._session_group: dict[str, tuple[int, int]] = {}
        self._timer: asyncio.Task[None] | None = None

    def add_session(
        self, session_id: str, in_rate: int, channels: int, handler: FrameHandler
    ) -> None:
        """Start processing ``session_id``'s audio, which arrives at ``in_rate`` x ``channels``."""
        if in_rate * self._frame_ms % 1000:
            raise ValueError(f"{in_rate} Hz does not divide into {self._frame_ms} ms frames")
        key = (in_rate, channels)
        group = self._groups.get(key)
        if group is None:
            path = BatchInboundPath(self._vad, in_rate, self.out_rate, channels)
            now = asyncio.get_running_loop().time()
            group = _Group(path, in_rate * self._frame_ms // 1000, now)
            self._groups[key] = group
        group.path.add_session(session_id)
        group.rows[session_id] = _Row(handler, group.stream_time)
        self._session_group[session_id] = key
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._watch_deadlines(), name="voicegate-inbound")

    def remove_session(self, session_id: str) -> None:
        """Stop processing ``session_id``; its buffered audio is discarded."""
        key = self._session_group.pop(session_id, None)
        if key is None:
            return
        group = self._groups[key]
        group.path.remove_session(session_id)
        del group.rows[session_id]
        if not group.rows:
            del self._groups[key]

    def push(self, session_id: str, frame: AudioFrame) -> None:
        """Buffer a session's inbound frame and run every pass its group is ready for."""
        key = self._session_group.get(session_id)
        if key is None:
            return
        if frame.sample_rate != key[0] or frame.channels != key[1]:
            raise ValueError(
                f"session {session_id} sends {key[0]} Hz x {key[1]}, "
                f"got a frame of {frame.sample_rate} Hz x {frame.channels}"
            )
        group = self._groups[key]
        row = group.rows[session_id]
        row.chunks.append(frame.samples)
        row.buffered += frame.num_samples
        row.stalled = False
        limit = key[0] * self._max_buffer_ms // 1000
        if row.buffered > limit:
            excess = row.buffered - limit
            row.take(excess, key[1])
            row.dropped += excess
            if not row.dropping:
                logger.warning(
                    "session %s: inbound audio arrives faster than it is processed; "
                    "dropping its backlog beyond %d ms",
                    session_id,
                    self._max_buffer_ms,
                )
            row.dropping = True
        else:
            row.dropping = False
        while self._ready(group):
            self._pass(group)

    async def close(self) -> None:
        """Stop the deadline timer."""
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)

    @staticmethod
    def _ready(group: _Group) -> bool:
        """A row has a whole frame and every other row has one too or is stalled."""
        frame = group.frame_samples
        rows = group.rows.values()
        return any(r.buffered >= frame for r in rows) and all(
            r.buffered >= frame or r.stalled for r in rows
        )

    def _pass(self, group: _Group) -> None:
        channels = group.path.in_channels
        block = np.stack([row.take(group.frame_samples, channels) for row in group.rows.values()])
        tick = group.path.process(block, group.stream_time)
        group.stream_time += self._frame_ms / 1000.0
        group.last_pass = asyncio.get_running_loop().time()
        for index, row in enumerate(group.rows.values()):
            frame = AudioFrame(
                tick.samples[index], tick.sample_rate, tick.timestamp - row.start_time
            )
            try:
                row.handler(frame, bool(tick.speech[index]), float(tick.dbfs[index]))
            except Exception:
                logger.exception(
                    "inbound frame handler of session %s failed", tick.session_ids[index]
                )

    async def _watch_deadlines(self) -> None:
        loop = asyncio.get_running_loop()
        while self._groups:
            await asyncio.sleep(self._frame_ms / 1000.0)
            now = loop.time()
            for group in list(self._groups.values()):
                if now - group.last_pass >= self._max_wait:
                    self._pass(group)
                    while self._ready(group):
                        self._pass(group)

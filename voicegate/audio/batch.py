"""One frame of many sessions' inbound audio in one batched numpy pass.

Downmix, resampling to 16 kHz and levels run as a few array operations over every
session in the call; a session's capture filter (echo cancellation) is a call per
session, and VAD one call per detector (a batching detector such as Silero judges
all its sessions at once, WebRTC VAD is a call per session). Each session keeps its own
resampler history (a row of one array), so any subset of sessions can be processed
together: a call takes the sessions whose frame has arrived, and nobody waits for
anybody. This works because a whole frame (20 ms at the supported rates) is a whole
number of the resampler's blocks, so every frame starts at the filter's phase zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import (
    FRAME_MS,
    INT16_FULL_SCALE,
    SILENCE_DBFS,
    AudioFrame,
    to_int16,
)
from voicegate.audio.resample import design
from voicegate.audio.vad import VADProvider, VADStream

CaptureFilter = Callable[[npt.NDArray[np.int16]], npt.NDArray[np.int16]]
"""Processes one session's 16 kHz mono frame before its level and VAD (echo cancellation)."""


@dataclass(frozen=True, slots=True)
class InboundTick:
    """The processed frames: row ``i`` of each array belongs to ``session_ids[i]``."""

    session_ids: tuple[str, ...]
    samples: npt.NDArray[np.int16]
    """``(sessions, samples)`` mono audio at the output rate."""
    dbfs: npt.NDArray[np.float64]
    speech: npt.NDArray[np.bool_]
    sample_rate: int
    timestamp: float

    def frame(self, index: int) -> AudioFrame:
        """Session ``index``'s audio as a frame."""
        return AudioFrame(self.samples[index], self.sample_rate, self.timestamp)


class BatchInboundPath:
    """Downmix, resample, level and VAD for many sessions per call, one frame each.

    Output audio lags the input by the resampler latency (2 ms); a new session starts
    with silent history, exactly like a fresh per-session resampler. ``vad`` is every
    session's detector unless :meth:`add_session` names another.
    """

    def __init__(
        self,
        vad: VADProvider,
        in_rate: int = 48000,
        out_rate: int = 16000,
        in_channels: int = 2,
        frame_ms: int = FRAME_MS,
    ) -> None:
        if in_channels < 1:
            raise ValueError(f"in_channels must be at least 1, got {in_channels}")
        self._design = design(in_rate, out_rate)
        self.frame_samples = in_rate * frame_ms // 1000
        if in_rate * frame_ms % 1000 or self.frame_samples % self._design.block_advance:
            raise ValueError(
                f"{frame_ms} ms frames at {in_rate} Hz do not align with the "
                f"{in_rate} -> {out_rate} Hz resampler's blocks"
            )
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.in_channels = in_channels
        self._vad = vad
        self._downmix_weights = np.full(in_channels, 1.0 / in_channels, dtype=np.float32)
        self._blocks = self.frame_samples // self._design.block_advance
        self._history = np.zeros((0, self._design.taps_per_phase - 1), dtype=np.float32)
        self._rows: dict[str, int] = {}
        self._free: list[int] = []
        self._detectors: dict[str, tuple[VADProvider, VADStream]] = {}
        self._filters: dict[str, CaptureFilter] = {}

    @property
    def session_ids(self) -> tuple[str, ...]:
        """Sessions in the order they were added."""
        return tuple(self._rows)

    def add_session(
        self,
        session_id: str,
        *,
        vad: VADProvider | None = None,
        capture: CaptureFilter | None = None,
    ) -> None:
        """Give ``session_id`` a row of resampler history (it must not be present already),
        its detector (``vad``, else the path's) and a ``capture`` filter if any."""
        if session_id in self._rows:
            raise ValueError(f"session {session_id!r} is already in the batch")
        if not self._free:
            grown = max(4, 2 * self._history.shape[0])
            self._free = list(range(grown - 1, self._history.shape[0] - 1, -1))
            self._history = np.resize(self._history, (grown, self._history.shape[1]))
        row = self._free.pop()
        self._history[row] = 0.0
        self._rows[session_id] = row
        provider = vad or self._vad
        self._detectors[session_id] = (provider, provider.new_stream())
        if capture is not None:
            self._filters[session_id] = capture

    def remove_session(self, session_id: str) -> None:
        """Drop ``session_id``'s row and state."""
        row = self._rows.pop(session_id, None)
        if row is None:
            raise KeyError(f"session {session_id!r} is not in the batch")
        del self._detectors[session_id]
        self._filters.pop(session_id, None)
        self._free.append(row)

    def process(
        self, session_ids: Sequence[str], block: npt.NDArray[np.int16], timestamp: float = 0.0
    ) -> InboundTick:
        """Process one frame of each of ``session_ids``; ``block`` is ``(ids, n, ch)`` int16."""
        expected = (len(session_ids), self.frame_samples, self.in_channels)
        if block.shape != expected:
            raise ValueError(f"expected an int16 block shaped {expected}, got {block.shape}")
        if block.dtype != np.int16:
            raise ValueError(f"expected int16 samples, got {block.dtype}")
        try:
            rows = np.fromiter((self._rows[s] for s in session_ids), np.intp, len(session_ids))
        except KeyError as missing:
            raise KeyError(f"session {missing} is not in the batch") from None
        mono = block.astype(np.float32) @ self._downmix_weights
        source = np.concatenate([self._history[rows], mono], axis=1)
        samples = to_int16(self._design.apply(source, self._blocks))
        self._history[rows] = source[:, source.shape[1] - self._history.shape[1] :]
        for index, session in enumerate(session_ids):
            if (capture := self._filters.get(session)) is not None:
                samples[index] = capture(samples[index])
        power = np.einsum("ij,ij->i", samples, samples, dtype=np.float64)
        rms = np.sqrt(power / max(1, samples.shape[1])) / INT16_FULL_SCALE
        with np.errstate(divide="ignore"):
            dbfs = np.maximum(20.0 * np.log10(rms), SILENCE_DBFS)
        speech = self._detect(session_ids, samples)
        return InboundTick(tuple(session_ids), samples, dbfs, speech, self.out_rate, timestamp)

    def _detect(
        self, session_ids: Sequence[str], samples: npt.NDArray[np.int16]
    ) -> npt.NDArray[np.bool_]:
        """Every session's speech decision, one :meth:`VADProvider.detect` per detector."""
        groups: dict[VADProvider, tuple[list[int], list[VADStream]]] = {}
        for index, session in enumerate(session_ids):
            provider, stream = self._detectors[session]
            rows, streams = groups.setdefault(provider, ([], []))
            rows.append(index)
            streams.append(stream)
        speech = np.zeros(len(session_ids), dtype=np.bool_)
        for provider, (rows, streams) in groups.items():
            speech[rows] = provider.detect(streams, samples[rows], self.out_rate)
        return speech

"""One tick of every session's inbound audio in one batched numpy pass.

Each 20 ms tick, the transports hand over a ``(sessions, samples, channels)`` int16 block
(48 kHz stereo from aiortc). Downmix, resampling to 16 kHz and levels run as a few array
operations over all sessions at once; the resampler state of each session is a row of one
:class:`~voicegate.audio.resample.PolyphaseStream`. Only VAD is a call per session.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import INT16_FULL_SCALE, SILENCE_DBFS, AudioFrame
from voicegate.audio.resample import PolyphaseStream, design
from voicegate.audio.vad import VADProvider, VADStream


@dataclass(frozen=True, slots=True)
class InboundTick:
    """The processed tick: row ``i`` of each array belongs to ``session_ids[i]``."""

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
    """Downmix, resample, level and VAD for many sessions per call.

    Output audio lags the input by the resampler latency (2 ms); a session added between
    ticks starts with silent history, exactly like a fresh per-session resampler.
    """

    def __init__(
        self,
        vad: VADProvider,
        in_rate: int = 48000,
        out_rate: int = 16000,
        in_channels: int = 2,
    ) -> None:
        if in_channels < 1:
            raise ValueError(f"in_channels must be at least 1, got {in_channels}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.in_channels = in_channels
        self._vad = vad
        self._downmix_weights = np.full(in_channels, 1.0 / in_channels, dtype=np.float32)
        self._stream = PolyphaseStream(design(in_rate, out_rate), 0)
        self._ids: list[str] = []
        self._detectors: list[VADStream] = []

    @property
    def session_ids(self) -> tuple[str, ...]:
        """Sessions in row order."""
        return tuple(self._ids)

    def add_session(self, session_id: str) -> None:
        """Give ``session_id`` a row; it must not be present already."""
        if session_id in self._ids:
            raise ValueError(f"session {session_id!r} is already in the batch")
        self._stream.add_row()
        self._ids.append(session_id)
        self._detectors.append(self._vad.new_stream())

    def remove_session(self, session_id: str) -> None:
        """Drop ``session_id``'s row and state."""
        try:
            row = self._ids.index(session_id)
        except ValueError:
            raise KeyError(f"session {session_id!r} is not in the batch") from None
        self._stream.remove_row(row)
        del self._ids[row]
        del self._detectors[row]

    def process(self, block: npt.NDArray[np.int16], timestamp: float = 0.0) -> InboundTick:
        """Process one tick: ``block`` is ``(sessions, samples, channels)`` int16 in row order."""
        expected = (len(self._ids), self.in_channels)
        if block.ndim != 3 or (block.shape[0], block.shape[2]) != expected:
            raise ValueError(
                f"expected an int16 block shaped ({expected[0]}, n, {expected[1]}), "
                f"got {block.dtype} {block.shape}"
            )
        if block.dtype != np.int16:
            raise ValueError(f"expected int16 samples, got {block.dtype}")
        mono = block.astype(np.float32) @ self._downmix_weights
        resampled = self._stream.process(mono)
        samples = np.clip(np.rint(resampled), -32768, 32767).astype(np.int16)
        power = np.einsum("ij,ij->i", samples, samples, dtype=np.float64)
        rms = np.sqrt(power / max(1, samples.shape[1])) / INT16_FULL_SCALE
        with np.errstate(divide="ignore"):
            dbfs = np.maximum(20.0 * np.log10(rms), SILENCE_DBFS)
        speech = np.fromiter(
            (
                detector.is_speech(AudioFrame(samples[row], self.out_rate, timestamp))
                for row, detector in enumerate(self._detectors)
            ),
            dtype=np.bool_,
            count=len(self._detectors),
        )
        return InboundTick(tuple(self._ids), samples, dbfs, speech, self.out_rate, timestamp)

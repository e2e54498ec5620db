"""``AudioFrame``: a block of 16-bit PCM audio held as a numpy array."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

INT16_FULL_SCALE = 32768.0
SILENCE_DBFS = -120.0
"""Level reported for digital silence (a finite floor instead of ``-inf``)."""
FRAME_MS = 20
"""Milliseconds of audio in one real-time frame, wherever voicegate cuts audio into frames:
the inbound path, the answer audio it sends, the local microphone's blocks, the bench's callers."""


def to_int16(values: npt.NDArray[np.floating]) -> npt.NDArray[np.int16]:
    """Int16-scale float samples rounded to the nearest integer and clipped to int16."""
    pcm: npt.NDArray[np.int16] = np.clip(np.rint(values), -32768, 32767).astype(np.int16)
    return pcm


@dataclass(slots=True)
class AudioFrame:
    """Int16 samples shaped ``(num_samples, channels)``, their rate and stream time.

    ``timestamp`` is the stream time, in seconds, of the first sample.
    """

    samples: npt.NDArray[np.int16]
    sample_rate: int
    timestamp: float = 0.0

    def __post_init__(self) -> None:
        if self.samples.dtype != np.int16:
            raise ValueError(f"AudioFrame samples must be int16, got {self.samples.dtype}")
        if self.samples.ndim == 1:
            self.samples = self.samples.reshape(-1, 1)
        if self.samples.ndim != 2 or self.samples.shape[1] < 1:
            shape = self.samples.shape
            raise ValueError(f"AudioFrame samples must be (num_samples, channels), got {shape}")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if not self.samples.flags.c_contiguous:
            self.samples = np.ascontiguousarray(self.samples)

    @classmethod
    def from_bytes(
        cls,
        data: bytes | bytearray | memoryview,
        sample_rate: int,
        channels: int = 1,
        timestamp: float = 0.0,
    ) -> AudioFrame:
        """View interleaved little-endian int16 PCM bytes as a frame, without copying."""
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        size = memoryview(data).nbytes
        if size % (2 * channels):
            raise ValueError(
                f"{size} bytes is not a whole number of {channels}-channel int16 samples"
            )
        samples = np.frombuffer(data, dtype="<i2").reshape(-1, channels)
        return cls(samples, sample_rate, timestamp)

    @classmethod
    def from_float32(
        cls, samples: npt.NDArray[np.floating], sample_rate: int, timestamp: float = 0.0
    ) -> AudioFrame:
        """Build a frame from float samples in [-1, 1]; values outside are clipped."""
        scaled = np.asarray(samples, dtype=np.float32) * INT16_FULL_SCALE
        return cls(to_int16(scaled), sample_rate, timestamp)

    @property
    def channels(self) -> int:
        """Number of interleaved channels."""
        return int(self.samples.shape[1])

    @property
    def num_samples(self) -> int:
        """Samples per channel."""
        return int(self.samples.shape[0])

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    def to_bytes(self) -> bytes:
        """Interleaved little-endian int16 PCM."""
        return self.samples.astype("<i2", copy=False).tobytes()

    def to_float32(self) -> npt.NDArray[np.float32]:
        """Samples as float32 in [-1, 1), shaped ``(num_samples, channels)``."""
        return self.samples.astype(np.float32) * np.float32(1.0 / INT16_FULL_SCALE)

    def downmix(self) -> AudioFrame:
        """Mono frame averaging all channels (returns ``self`` when already mono)."""
        if self.channels == 1:
            return self
        mean = self.samples.mean(axis=1, dtype=np.float32)
        return AudioFrame(np.rint(mean).astype(np.int16), self.sample_rate, self.timestamp)

    def rms(self) -> float:
        """Root mean square over all samples, as a fraction of int16 full scale."""
        if self.samples.size == 0:
            return 0.0
        values = self.samples.astype(np.float64)
        return math.sqrt(float(np.mean(values * values))) / INT16_FULL_SCALE

    def dbfs(self) -> float:
        """RMS level in dB relative to full scale, floored at ``SILENCE_DBFS``."""
        level = self.rms()
        if level <= 0.0:
            return SILENCE_DBFS
        return max(SILENCE_DBFS, 20.0 * math.log10(level))

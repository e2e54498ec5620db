"""Streaming polyphase resampling for any rational ratio, vectorised with numpy.

The filter is a Kaiser-windowed sinc designed once per ratio. Its length is fixed by the
latency budget: the group delay is :data:`MAX_LATENCY` (2 ms) of output time, rounded down to
whole output samples, and the transition band is as wide as that length needs for
:data:`STOPBAND_DB` of attenuation. The stopband starts at the lower Nyquist frequency, so
nothing aliases; the passband ends about 1.2 kHz below it.

Outputs are computed in blocks of ``block`` samples whose phase pattern repeats, so one block
is a single ``(rows, window) @ (window, block)`` matrix product against a banded matrix built
once from the polyphase filter; many blocks and many rows (channels or sessions) go through
one ``matmul``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from voicegate.audio.frame import AudioFrame, to_int16

MAX_LATENCY = 0.002
STOPBAND_DB = 75.0
MIN_BLOCK = 32

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class PolyphaseDesign:
    """The filter and block matrix for one ``in_rate -> out_rate`` ratio."""

    in_rate: int
    out_rate: int
    up: int
    down: int
    delay: int
    """Group delay in output samples."""
    taps_per_phase: int
    block: int
    """Output samples per block; a multiple of ``up`` so every block has the same phases."""
    block_advance: int
    """Input samples between the starts of consecutive blocks."""
    matrix: FloatArray
    """``(window, block)``: block output = input window @ matrix."""
    passband_hz: float

    @property
    def window(self) -> int:
        """Input samples one block reads."""
        return int(self.matrix.shape[0])

    @property
    def latency(self) -> float:
        """Added latency in seconds."""
        return self.delay / self.out_rate

    def apply(self, source: FloatArray, blocks: int) -> FloatArray:
        """Filter ``blocks`` output blocks of each row of ``(rows, n)`` ``source``, the first
        block's window starting at column 0; returns ``(rows, blocks * block)``."""
        windows = sliding_window_view(source, self.window, axis=1)[:, :: self.block_advance]
        out: FloatArray = np.matmul(windows[:, :blocks], self.matrix)
        return out.reshape(source.shape[0], blocks * self.block)

    def outputs_for(self, num_inputs: int) -> int:
        """Output samples available after ``num_inputs`` input samples: ceil(n * out / in)."""
        return -(-num_inputs * self.up // self.down)


@lru_cache(maxsize=64)
def design(in_rate: int, out_rate: int) -> PolyphaseDesign:
    """Design (and cache) the polyphase filter for ``in_rate -> out_rate``."""
    if in_rate <= 0 or out_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
    common = math.gcd(in_rate, out_rate)
    up, down = out_rate // common, in_rate // common
    delay = max(1, int(MAX_LATENCY * out_rate))
    half = delay * down
    length = 2 * half + 1
    fs_up = float(in_rate * up)
    span = (length - 1) / fs_up
    transition = (STOPBAND_DB - 7.95) / (2.285 * 2.0 * math.pi * span)
    stop = min(in_rate, out_rate) / 2.0
    cutoff = stop - transition / 2.0
    beta = 0.1102 * (STOPBAND_DB - 8.7)
    n = np.arange(length, dtype=np.float64) - half
    taps = 2.0 * cutoff / fs_up * np.sinc(2.0 * cutoff / fs_up * n) * np.kaiser(length, beta)
    taps *= up / taps.sum()
    taps_per_phase = -(-length // up)
    padded = np.zeros(taps_per_phase * up)
    padded[:length] = taps
    reversed_phases = padded.reshape(taps_per_phase, up).T[:, ::-1]
    block = up * max(1, -(-MIN_BLOCK // up))
    offsets = (np.arange(block) * down) // up
    phases = (np.arange(block) * down) % up
    matrix = np.zeros((int(offsets[-1]) + taps_per_phase, block))
    for column in range(block):
        start = int(offsets[column])
        matrix[start : start + taps_per_phase, column] = reversed_phases[phases[column]]
    return PolyphaseDesign(
        in_rate=in_rate,
        out_rate=out_rate,
        up=up,
        down=down,
        delay=delay,
        taps_per_phase=taps_per_phase,
        block=block,
        block_advance=block * down // up,
        matrix=matrix.astype(np.float32),
        passband_hz=stop - transition,
    )


class PolyphaseStream:
    """Resampling state for ``rows`` float32 streams fed in lockstep: the channels of a stream."""

    def __init__(self, design: PolyphaseDesign, rows: int) -> None:
        self.design = design
        self._reset(rows)

    def _reset(self, rows: int) -> None:
        history = self.design.taps_per_phase - 1
        self._buffer: FloatArray = np.zeros((rows, history), dtype=np.float32)
        self._buffer_start = -history
        self._inputs = 0
        self._outputs = 0

    @property
    def rows(self) -> int:
        """Number of streams."""
        return int(self._buffer.shape[0])

    def process(self, samples: FloatArray) -> FloatArray:
        """Feed ``(rows, n)`` samples; returns ``(rows, m)`` with ``m`` keeping counts exact."""
        if samples.ndim != 2 or samples.shape[0] != self.rows:
            raise ValueError(f"expected ({self.rows}, n) samples, got {samples.shape}")
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float32, copy=False)], 1)
        self._inputs += samples.shape[1]
        return self._emit(self.design.outputs_for(self._inputs))

    def flush(self) -> FloatArray:
        """Emit the tail the filter holds back, then start over as a fresh stream."""
        tail = self._emit(self.design.outputs_for(self._inputs) + self.design.delay)
        self._reset(self.rows)
        return tail

    def _emit(self, target: int) -> FloatArray:
        spec = self.design
        if target <= self._outputs:
            return np.zeros((self.rows, 0), dtype=np.float32)
        first_block = self._outputs // spec.block
        blocks = -(-target // spec.block) - first_block
        window_start = first_block * spec.block_advance - (spec.taps_per_phase - 1)
        offset = window_start - self._buffer_start
        needed = offset + (blocks - 1) * spec.block_advance + spec.window
        source = self._buffer[:, offset:]
        if source.shape[1] < needed - offset:
            pad = np.zeros((self.rows, needed - offset - source.shape[1]), dtype=np.float32)
            source = np.concatenate([source, pad], axis=1)
        out = spec.apply(source, blocks)
        skip = self._outputs - first_block * spec.block
        result = out[:, skip : skip + target - self._outputs]
        self._outputs = target
        keep_from = (target // spec.block) * spec.block_advance - (spec.taps_per_phase - 1)
        drop = keep_from - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[:, drop:]
            self._buffer_start = keep_from
        return np.ascontiguousarray(result)


class Resampler:
    """Streaming, stateful resampler from ``in_rate`` to ``out_rate`` (any rational ratio).

    After ``n`` input samples the total output is exactly ``ceil(n * out_rate / in_rate)``;
    the output lags the input by :attr:`latency` (at most 2 ms), and :meth:`flush` returns
    that held-back tail at the end of the stream. Streamed output concatenated equals
    processing the whole signal at once.
    """

    def __init__(self, in_rate: int, out_rate: int, channels: int = 1) -> None:
        if channels < 1:
            raise ValueError(f"channels must be at least 1, got {channels}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.channels = channels
        self._stream = PolyphaseStream(design(in_rate, out_rate), channels)
        self._out_samples = 0
        self._start: float | None = None

    @property
    def latency(self) -> float:
        """Delay the filter adds, in seconds."""
        return self._stream.design.latency

    @overload
    def process(self, frame: AudioFrame) -> AudioFrame: ...

    @overload
    def process(self, frame: npt.NDArray[np.generic]) -> FloatArray: ...

    def process(self, frame: AudioFrame | npt.NDArray[np.generic]) -> AudioFrame | FloatArray:
        """Resample the next chunk.

        An :class:`AudioFrame` gives an int16 ``AudioFrame``; an array shaped ``(n,)`` or
        ``(n, channels)`` (int16 or float) gives float32 in the same shape and scale.
        """
        if isinstance(frame, AudioFrame):
            if frame.sample_rate != self.in_rate:
                raise ValueError(
                    f"frame is {frame.sample_rate} Hz, resampler expects {self.in_rate}"
                )
            if self._start is None:
                self._start = frame.timestamp
            return self._to_frame(self._stream.process(self._rows(frame.samples)))
        samples = np.asarray(frame)
        out = self._stream.process(self._rows(samples))
        return out[0] if samples.ndim == 1 else np.ascontiguousarray(out.T)

    def flush(self) -> AudioFrame:
        """Drain the held-back tail (an int16 frame) and reset for a new stream."""
        tail = self._to_frame(self._stream.flush())
        self._out_samples = 0
        self._start = None
        return tail

    def _rows(self, samples: npt.NDArray[np.generic]) -> FloatArray:
        if samples.ndim == 1:
            samples = samples.reshape(-1, 1)
        if samples.ndim != 2 or samples.shape[1] != self.channels:
            raise ValueError(
                f"expected (n, {self.channels}) samples, got an array shaped {samples.shape}"
            )
        return np.ascontiguousarray(samples.T, dtype=np.float32)

    def _to_frame(self, rows: FloatArray) -> AudioFrame:
        start = (self._start or 0.0) + self._out_samples / self.out_rate
        self._out_samples += rows.shape[1]
        pcm = to_int16(rows.T)
        return AudioFrame(pcm, self.out_rate, start)


def resample(frame: AudioFrame, out_rate: int) -> AudioFrame:
    """Resample a whole frame at once, time-aligned (the filter delay removed)."""
    if frame.sample_rate == out_rate:
        return frame
    stream = PolyphaseStream(design(frame.sample_rate, out_rate), frame.channels)
    rows = np.ascontiguousarray(frame.samples.T, dtype=np.float32)
    out = np.concatenate([stream.process(rows), stream.flush()], axis=1)[:, stream.design.delay :]
    pcm = to_int16(out.T)
    return AudioFrame(pcm, out_rate, frame.timestamp)


class MonoConverter:
    """Turns a stream of frames into mono frames at ``sample_rate``: downmix first, then resample.

    Keeps one streaming resampler per input rate, so a stream may change rate between frames.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._resamplers: dict[int, Resampler] = {}

    def convert(self, frame: AudioFrame) -> AudioFrame:
        """The next piece of the stream as mono at :attr:`sample_rate`."""
        mono = frame.downmix()
        if mono.sample_rate == self.sample_rate:
            return mono
        resampler = self._resamplers.get(mono.sample_rate)
        if resampler is None:
            resampler = Resampler(mono.sample_rate, self.sample_rate)
            self._resamplers[mono.sample_rate] = resampler
        return resampler.process(mono)

    def reset(self) -> None:
        """Forget the resamplers' history: the next frame starts a new stream."""
        self._resamplers.clear()

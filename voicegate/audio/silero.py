"""Silero VAD (v6, ONNX, MIT): a neural voice activity detector, batched across streams.

The model reads 32 ms windows (512 samples at 16 kHz) with the 64 samples before each
as context, and carries a recurrent state per stream. Streams arrive in 20 ms frames,
so each keeps what it has not yet judged; :meth:`SileroVAD.detect` runs one model call
for every stream that has a whole window, and a frame's decision is its stream's latest
(at most one window old). Speech starts when the probability reaches ``threshold`` and
lasts until it falls below ``threshold - 0.15``, as Silero's own tools do.

Like WebRTC VAD it runs inline in the inbound path: a call costs about 0.24 ms for one
stream and 0.07 ms a stream for 64, on one thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import INT16_FULL_SCALE, AudioFrame
from voicegate.audio.onnx import onnx_session
from voicegate.audio.vad import VADProvider, VADStream

SAMPLE_RATE = 16000
WINDOW = 512
CONTEXT = 64
STATE_SIZE = 128
HYSTERESIS = 0.15


class _SileroStream(VADStream):
    def __init__(self, provider: SileroVAD) -> None:
        self._provider = provider
        self.pending = np.zeros(0, np.float32)
        self.context = np.zeros(CONTEXT, np.float32)
        self.state = np.zeros((2, STATE_SIZE), np.float32)
        self.speaking = False
        self.probability = 0.0

    def is_speech(self, frame: AudioFrame) -> bool:
        if frame.channels != 1:
            raise ValueError(f"SileroVAD expects mono audio, got {frame.channels} channels")
        return bool(self._provider.detect([self], frame.samples[:, 0][None], frame.sample_rate)[0])


class SileroVAD(VADProvider):
    """Silero VAD from its ONNX file (``voicegate models --fetch`` gets it), 16 kHz mono."""

    def __init__(self, model: Path, threshold: float = 0.5) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        self.threshold = threshold
        self._session = onnx_session(model)
        self._rate = np.array(SAMPLE_RATE, dtype=np.int64)

    def new_stream(self) -> VADStream:
        return _SileroStream(self)

    def detect(
        self, streams: Sequence[VADStream], samples: npt.NDArray[np.int16], sample_rate: int
    ) -> npt.NDArray[np.bool_]:
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"SileroVAD expects {SAMPLE_RATE} Hz, got {sample_rate} Hz")
        own = [s for s in streams if isinstance(s, _SileroStream)]
        if len(own) != len(streams):
            raise TypeError("SileroVAD.detect takes the streams of SileroVAD.new_stream()")
        scaled = samples.reshape(len(own), -1).astype(np.float32) / INT16_FULL_SCALE
        for stream, row in zip(own, scaled, strict=True):
            stream.pending = np.concatenate([stream.pending, row])
        while ready := [s for s in own if len(s.pending) >= WINDOW]:
            self._judge(ready)
        return np.fromiter((s.speaking for s in own), dtype=np.bool_, count=len(own))

    def _judge(self, streams: list[_SileroStream]) -> None:
        """One model call over the next window of each of ``streams``."""
        windows = np.stack([np.concatenate([s.context, s.pending[:WINDOW]]) for s in streams])
        state = np.stack([s.state for s in streams], axis=1)
        output, state = self._session.run(
            None, {"input": windows, "state": state, "sr": self._rate}
        )
        for index, stream in enumerate(streams):
            stream.context = windows[index, -CONTEXT:]
            stream.pending = stream.pending[WINDOW:]
            stream.state = state[:, index]
            stream.probability = float(output[index, 0])
            limit = self.threshold - HYSTERESIS if stream.speaking else self.threshold
            stream.speaking = stream.probability >= limit

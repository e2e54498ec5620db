"""Voice activity detection: a provider serves many streams, each with its own state."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import webrtcvad

from voicegate.audio.frame import AudioFrame

WEBRTC_RATES = (8000, 16000, 32000, 48000)
WEBRTC_FRAME_MS = (10, 20, 30)


class VADStream(ABC):
    """Per-stream detector state; feed it consecutive frames of one stream."""

    @abstractmethod
    def is_speech(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` holds speech."""


class VADProvider(ABC):
    """Configuration of a detector; :meth:`new_stream` gives each session its own state."""

    @abstractmethod
    def new_stream(self) -> VADStream:
        """A detector for one new stream."""

    def detect(
        self, streams: Sequence[VADStream], samples: npt.NDArray[np.int16], sample_rate: int
    ) -> npt.NDArray[np.bool_]:
        """Decisions for one frame of each of ``streams`` (its own, from :meth:`new_stream`):
        row ``i`` of ``samples`` is ``streams[i]``'s mono frame. By default one call per
        stream; a detector that batches overrides it."""
        return np.fromiter(
            (s.is_speech(AudioFrame(samples[i], sample_rate)) for i, s in enumerate(streams)),
            dtype=np.bool_,
            count=len(streams),
        )


class _WebRTCStream(VADStream):
    def __init__(self, aggressiveness: int, sample_rate: int) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)
        self._sample_rate = sample_rate
        self._frame_sizes = {ms * sample_rate // 1000 for ms in WEBRTC_FRAME_MS}

    def is_speech(self, frame: AudioFrame) -> bool:
        if frame.sample_rate != self._sample_rate:
            raise ValueError(
                f"WebRTCVAD expects {self._sample_rate} Hz, got {frame.sample_rate} Hz"
            )
        if frame.channels != 1:
            raise ValueError(f"WebRTCVAD expects mono audio, got {frame.channels} channels")
        if frame.num_samples not in self._frame_sizes:
            raise ValueError(
                f"WebRTCVAD frames must be 10, 20 or 30 ms; got {frame.num_samples} samples "
                f"({frame.duration * 1000:.2f} ms at {frame.sample_rate} Hz)"
            )
        return bool(self._vad.is_speech(frame.to_bytes(), frame.sample_rate))


class WebRTCVAD(VADProvider):
    """Google's WebRTC VAD: 10, 20 or 30 ms mono frames, aggressiveness 0 (lenient) to 3."""

    def __init__(self, aggressiveness: int = 2, sample_rate: int = 16000) -> None:
        if aggressiveness not in range(4):
            raise ValueError(f"aggressiveness must be 0, 1, 2 or 3, got {aggressiveness}")
        if sample_rate not in WEBRTC_RATES:
            raise ValueError(f"WebRTCVAD supports {WEBRTC_RATES} Hz, got {sample_rate}")
        self.aggressiveness = aggressiveness
        self.sample_rate = sample_rate

    def new_stream(self) -> VADStream:
        return _WebRTCStream(self.aggressiveness, self.sample_rate)


class _EnergyStream(VADStream):
    def __init__(self, start_dbfs: float, stop_dbfs: float) -> None:
        self._start_dbfs = start_dbfs
        self._stop_dbfs = stop_dbfs
        self._speaking = False

    def is_speech(self, frame: AudioFrame) -> bool:
        threshold = self._stop_dbfs if self._speaking else self._start_dbfs
        self._speaking = frame.dbfs() >= threshold
        return self._speaking


class EnergyVAD(VADProvider):
    """Level threshold with hysteresis.

    Speech starts at ``start_dbfs`` or above and lasts until the level drops below ``stop_dbfs``.
    """

    def __init__(self, start_dbfs: float = -35.0, stop_dbfs: float = -45.0) -> None:
        if stop_dbfs > start_dbfs:
            raise ValueError(f"stop_dbfs ({stop_dbfs}) must not exceed start_dbfs ({start_dbfs})")
        self.start_dbfs = start_dbfs
        self.stop_dbfs = stop_dbfs

    def new_stream(self) -> VADStream:
        return _EnergyStream(self.start_dbfs, self.stop_dbfs)

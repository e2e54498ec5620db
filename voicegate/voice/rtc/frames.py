"""Conversions between PyAV audio frames (what aiortc carries) and voicegate's
:class:`AudioFrame`."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import numpy as np
from av.frame import Frame
from av.packet import Packet

from voicegate.audio.frame import AudioFrame


def from_av_frame(frame: Frame | Packet[Any]) -> AudioFrame:
    """An :class:`AudioFrame` holding the samples of a packed 16-bit PyAV frame, channels kept.

    aiortc's audio decoders all produce packed ``s16``; anything else is a programming error.
    """
    if not isinstance(frame, av.AudioFrame):
        raise TypeError(f"expected an audio frame, got {type(frame).__name__}")
    if frame.format.name != "s16":
        raise ValueError(f"expected packed s16 audio from aiortc, got {frame.format.name!r}")
    channels = len(frame.layout.channels)
    samples = frame.to_ndarray().astype(np.int16, copy=False).reshape(-1, channels)
    return AudioFrame(samples=samples, sample_rate=frame.sample_rate, timestamp=frame.time or 0.0)


def to_av_frame(frame: AudioFrame, pts: int) -> av.AudioFrame:
    """A packed ``s16`` PyAV frame of ``frame`` whose ``pts`` counts samples (time base 1/rate)."""
    layout = "mono" if frame.channels == 1 else "stereo"
    interleaved = np.ascontiguousarray(frame.samples, dtype=np.int16).reshape(1, -1)
    out = av.AudioFrame.from_ndarray(interleaved, format="s16", layout=layout)
    out.sample_rate = frame.sample_rate
    out.pts = pts
    out.time_base = Fraction(1, frame.sample_rate)
    return out

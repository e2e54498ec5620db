"""The numpy audio path: frames, resampling, VAD, endpointing, batched inbound processing."""

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import Resampler, resample

__all__ = ["AudioFrame", "Resampler", "resample"]

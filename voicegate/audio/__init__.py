"""The numpy audio path: frames, resampling, VAD, endpointing, batched inbound processing."""

from voicegate.audio.batch import BatchInboundPath, InboundTick
from voicegate.audio.endpoint import Endpointer, EndpointEvent, SpeechEnd, SpeechStart
from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import Resampler, resample
from voicegate.audio.vad import EnergyVAD, VADProvider, VADStream, WebRTCVAD
from voicegate.audio.wav import read_wav, write_wav

__all__ = [
    "AudioFrame",
    "BatchInboundPath",
    "EndpointEvent",
    "Endpointer",
    "EnergyVAD",
    "InboundTick",
    "Resampler",
    "SpeechEnd",
    "SpeechStart",
    "VADProvider",
    "VADStream",
    "WebRTCVAD",
    "read_wav",
    "resample",
    "write_wav",
]

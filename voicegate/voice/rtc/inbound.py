"""Reading a remote WebRTC audio track as mono :class:`AudioFrame`s; packets decoded on arrival."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiortc import MediaStreamTrack, RTCRtpReceiver
from aiortc.jitterbuffer import MAX_MISORDER, JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import MonoConverter
from voicegate.voice.rtc.frames import from_av_frame

logger = logging.getLogger(__name__)

WEBRTC_SAMPLE_RATE = 48_000
_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"  # where aiortc's receiver keeps it


class PassThroughBuffer(JitterBuffer):
    """An audio "jitter buffer" that hands every packet to the decoder as it arrives.

    aiortc's audio buffer holds four packets (80 ms) before the first leaves, to smooth
    playout. A recogniser needs the audio in order, not evenly timed, so this one waits for
    nothing: a packet older than the last one passed (late or repeated) is dropped, one more
    than ``MAX_MISORDER`` packets older starts a new stream, as in aiortc's.
    """

    def __init__(self) -> None:
        super().__init__(capacity=1)
        self._last: int | None = None

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """The packet's frame at once, or None for a late or repeated packet."""
        number = packet.sequence_number
        if self._last is not None and uint16_add(self._last, -number) < MAX_MISORDER:
            return False, None  # at most MAX_MISORDER - 1 behind the last: late, or repeated
        self._last = number
        return False, JitterFrame(packet._data, packet.timestamp)  # type: ignore[attr-defined]


def decode_on_arrival(receiver: RTCRtpReceiver) -> None:
    """Make ``receiver`` (audio) decode each packet as it arrives (:class:`PassThroughBuffer`);
    if this aiortc keeps its buffer elsewhere, log it and leave the receiver as it is."""
    if not hasattr(receiver, _JITTER_BUFFER):
        logger.warning("aiortc's receiver has no %s: inbound audio waits 80 ms", _JITTER_BUFFER)
        return
    setattr(receiver, _JITTER_BUFFER, PassThroughBuffer())


async def read_audio(
    track: MediaStreamTrack, sample_rate: int = WEBRTC_SAMPLE_RATE
) -> AsyncIterator[AudioFrame]:
    """Yield the track's audio as mono frames at ``sample_rate`` until the track ends.

    aiortc decodes Opus to 48 kHz stereo: every frame is downmixed first, then resampled
    when ``sample_rate`` differs from the frame's rate. Frame timestamps are the track's
    presentation times in seconds. The iterator simply stops when the track ends.
    """
    if track.kind != "audio":
        raise ValueError(f"read_audio needs an audio track, got a {track.kind} track")
    converter = MonoConverter(sample_rate)
    while True:
        try:
            received = await track.recv()
        except MediaStreamError:
            return
        frame = converter.convert(from_av_frame(received))
        if frame.num_samples:
            yield frame

"""Reading a remote WebRTC audio track as mono :class:`AudioFrame` s."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from voicegate.audio.frame import AudioFrame
from voicegate.voice.rtc.frames import MonoConverter, from_av_frame

WEBRTC_SAMPLE_RATE = 48_000


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

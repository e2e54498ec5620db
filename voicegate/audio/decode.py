"""Decode any audio file PyAV (FFmpeg) reads, G.722 and MP3 to Opus, into an :class:`AudioFrame`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import AudioFrame


def decode_audio(path: str | Path, sample_rate: int | None = None) -> AudioFrame:
    """The first audio stream of ``path`` as 16-bit PCM, downmixed to mono.

    ``sample_rate`` resamples with FFmpeg's resampler; ``None`` keeps the file's rate.
    Raises ``ValueError`` for a file with no decodable audio (and ``OSError`` for one
    that cannot be opened); PyAV comes with the ``webrtc`` extra.
    """
    try:
        import av
    except ImportError:
        raise ValueError("decoding compressed audio needs PyAV: pip install av") from None
    try:
        container: Any = av.open(str(path))
    except av.error.FileNotFoundError as error:
        raise FileNotFoundError(f"{path}: no such file") from error
    except av.error.FFmpegError as error:
        raise ValueError(f"{path}: not an audio file FFmpeg can read ({error})") from error
    with container:
        if not container.streams.audio:
            raise ValueError(f"{path}: holds no audio stream")
        stream = container.streams.audio[0]
        rate = sample_rate or stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
        chunks: list[npt.NDArray[Any]] = []
        try:
            for frame in container.decode(stream):
                chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
        except av.error.FFmpegError as error:
            raise ValueError(f"{path}: the audio cannot be decoded ({error})") from error
    if not chunks:
        raise ValueError(f"{path}: the audio stream is empty")
    return AudioFrame(np.concatenate(chunks).astype(np.int16, copy=False), rate)

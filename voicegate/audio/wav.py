"""Read and write 16-bit PCM WAV files as :class:`AudioFrame`."""

from __future__ import annotations

import wave
from pathlib import Path

from voicegate.audio.frame import AudioFrame


def read_wav(path: str | Path) -> AudioFrame:
    """Load a 16-bit PCM WAV file; other encodings raise ``ValueError``."""
    try:
        with wave.open(str(path), "rb") as reader:
            if reader.getsampwidth() != 2:
                bits = reader.getsampwidth() * 8
                raise ValueError(f"{path}: {bits}-bit WAV; only 16-bit PCM is supported")
            data = reader.readframes(reader.getnframes())
            return AudioFrame.from_bytes(data, reader.getframerate(), reader.getnchannels())
    except wave.Error as error:
        raise ValueError(f"{path}: not a 16-bit PCM WAV file ({error})") from error
    except EOFError as error:
        raise ValueError(f"{path}: truncated WAV file") from error


def write_wav(path: str | Path, frame: AudioFrame) -> None:
    """Write ``frame`` as a 16-bit PCM WAV file."""
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(frame.channels)
        writer.setsampwidth(2)
        writer.setframerate(frame.sample_rate)
        writer.writeframes(frame.to_bytes())

"""Stereo recording files that stay playable up to the last write, even if the writer dies.

:class:`WavRecordingFile` rewrites its header's sizes on every :meth:`flush`, so a file
cut off by a killed process is a valid WAV of everything flushed; :class:`OggOpusRecordingFile`
encodes Opus in Ogg (PyAV) and pushes every page to the file as soon as it is complete, so
a killed process loses at most the page in progress (about a second).
:func:`recorded_seconds` measures a file, also one cut off by a crash.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Stereo = npt.NDArray[np.int16]
"""Interleaved samples: shape ``(n, 2)``, int16."""

RECORDING_FORMATS = {"wav": "audio/wav", "ogg": "audio/ogg"}
"""The recording formats, by file extension, with their MIME types."""


class RecordingFile(Protocol):
    """A stereo int16 file written in order: :meth:`write`, :meth:`flush` often, :meth:`close`."""

    def write(self, samples: Stereo) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def open_recording(path: Path, sample_rate: int) -> RecordingFile:
    """A new recording file at ``path``, its format from the extension (``.wav``, ``.ogg``)."""
    if path.suffix == ".wav":
        return WavRecordingFile(path, sample_rate)
    if path.suffix == ".ogg":
        return OggOpusRecordingFile(path, sample_rate)
    raise ValueError(f"no recording format for {path.name}: use one of {sorted(RECORDING_FORMATS)}")


_WAV_HEADER = struct.Struct("<4sI4s4sIHHIIHH4sI")
_WAV_BLOCK = 4  # bytes per stereo int16 frame


def _wav_header(sample_rate: int, data_bytes: int) -> bytes:
    return _WAV_HEADER.pack(
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        1,
        2,
        sample_rate,
        sample_rate * _WAV_BLOCK,
        _WAV_BLOCK,
        16,
        b"data",
        data_bytes,
    )


def recorded_seconds(path: Path) -> float:
    """How long the recording at ``path`` is. A WAV file cut off by a crash is repaired
    first: its header made true to the whole frames on disk, a partial frame dropped; an
    Ogg file is decoded up to its last complete page."""
    if path.suffix == ".wav":
        return _repair_wav(path)
    if path.suffix == ".ogg":
        return _decode_ogg(path)
    raise ValueError(f"no recording format for {path.name}: use one of {sorted(RECORDING_FORMATS)}")


def _repair_wav(path: Path) -> float:
    with path.open("r+b") as file:
        header = file.read(_WAV_HEADER.size)
        if len(header) < _WAV_HEADER.size:  # killed before its first flush
            return 0.0
        rate = _WAV_HEADER.unpack(header)[7]
        data_bytes = max(path.stat().st_size - _WAV_HEADER.size, 0) // _WAV_BLOCK * _WAV_BLOCK
        file.seek(0)
        file.write(_wav_header(rate, data_bytes))
        file.truncate(_WAV_HEADER.size + data_bytes)
    return float(data_bytes / _WAV_BLOCK / rate)


def _decode_ogg(path: Path) -> float:
    import av  # PyAV (the serve extra), as for writing

    samples, rate = 0, 1
    with av.open(str(path)) as container:
        try:
            for frame in container.decode(audio=0):
                samples, rate = samples + frame.samples, frame.sample_rate
        except av.FFmpegError:  # the page the crash cut short
            pass
    return samples / rate


class WavRecordingFile:
    """PCM16 stereo WAV whose header is made true again by every :meth:`flush`."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self._file = path.open("wb")
        self._rate = sample_rate
        self._data_bytes = 0
        self._file.write(self._header())

    def write(self, samples: Stereo) -> None:
        """Append interleaved samples."""
        data = np.ascontiguousarray(samples, dtype="<i2").tobytes()
        self._file.write(data)
        self._data_bytes += len(data)

    def flush(self) -> None:
        """Write the sizes into the header and hand everything to the operating system."""
        self._file.seek(0)
        self._file.write(self._header())
        self._file.seek(0, 2)
        self._file.flush()

    def close(self) -> None:
        """Flush and close."""
        self.flush()
        self._file.close()

    def _header(self) -> bytes:
        return _wav_header(self._rate, self._data_bytes)


class OggOpusRecordingFile:
    """Opus stereo in Ogg through PyAV; complete pages reach the file at once."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        import av  # PyAV (the serve extra): only Ogg recordings need it

        self._av = av
        self._container = av.open(str(path), "w", format="ogg", options={"flush_packets": "1"})
        self._stream = self._container.add_stream("libopus", rate=sample_rate, layout="stereo")
        self._rate = sample_rate
        self._written = 0

    def write(self, samples: Stereo) -> None:
        """Encode interleaved samples."""
        if not len(samples):
            return
        frame = self._av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1),
            format="s16",
            layout="stereo",
        )
        frame.sample_rate = self._rate
        frame.pts = self._written
        self._written += len(samples)
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def flush(self) -> None:
        """Pages are flushed as they complete (the container's ``flush_packets``)."""

    def close(self) -> None:
        """Encode what the encoder holds and finish the stream."""
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()

"""Whisper's log-Mel features of a short window, computed without a BLAS thread pool.

faster-whisper's extractor projects the power spectrum onto the Mel bands with a matrix
product, which numpy hands to OpenBLAS's threads: on 2 cores loaded by other work, waking
them cost 15-50 ms for a 1-3 s utterance whose arithmetic takes under 2 ms. Each Mel band
is a triangle over a few FFT bins, so here the projection is a weighted sum over each band's
bins (``np.add.reduceat``), which runs on the calling thread. The features equal
faster-whisper's to float32 rounding (the same STFT, window, clamp and scale).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Features = npt.NDArray[np.float32]

SILENCE_TAIL_FRAMES = 4
"""Frames of silence after the audio that cover the last STFT window reaching into it."""
DYNAMIC_RANGE = 8.0
"""Whisper's log-Mel floor: the loudest value minus this (80 dB)."""


class LogMel:
    """The log-Mel features of Whisper's extractor ``extractor`` (faster-whisper's
    ``FeatureExtractor``: its Mel filters, FFT size and hop), for windows of audio padded
    with silence."""

    def __init__(self, extractor: Any) -> None:
        filters = np.asarray(extractor.mel_filters, dtype=np.float32)
        self.n_fft: int = extractor.n_fft
        self.hop: int = extractor.hop_length
        self.bands = filters.shape[0]
        band, self._bins = np.nonzero(filters)  # row-major: grouped by band, in band order
        self._weights = filters[band, self._bins]
        self._filled = np.unique(band)  # bands with at least one bin
        self._starts = np.searchsorted(band, self._filled)
        self._window = np.hanning(self.n_fft + 1)[:-1].astype(np.float32)

    def __call__(self, samples: npt.NDArray[np.float32]) -> Features:
        """The features of ``samples`` (16 kHz mono), ``(bands, len(samples) // hop + 1)``,
        as faster-whisper's extractor computes them."""
        padded = np.pad(samples.astype(np.float32, copy=False), (0, self.hop))
        padded = np.pad(padded, self.n_fft // 2, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(padded, self.n_fft)[:: self.hop][:-1]
        spectrum = np.fft.rfft(frames * self._window, axis=-1)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
        mel = np.zeros((power.shape[0], self.bands), dtype=np.float32)
        mel[:, self._filled] = np.add.reduceat(
            power[:, self._bins] * self._weights, self._starts, axis=1
        )
        log_spec: Features = np.log10(np.maximum(mel.T, np.float32(1e-10)))
        log_spec = np.maximum(log_spec, log_spec.max() - DYNAMIC_RANGE)
        scaled: Features = (log_spec + np.float32(4.0)) / np.float32(4.0)
        return scaled

    def window(self, samples: npt.NDArray[np.float32], frames: int) -> Features:
        """The features of ``samples`` padded with silence to ``frames`` frames, shaped
        ``(1, bands, frames)`` for the encoder.

        Equal to the features of the zero-padded audio, at the cost of the audio alone: past
        the last window that reaches into the speech, every frame of silence is the same
        column (the spectrum's floor), so it is computed once and repeated.
        """
        tail = np.zeros(SILENCE_TAIL_FRAMES * self.hop, dtype=np.float32)
        features = self(np.concatenate([samples, tail]))[:, :frames]
        padded = np.pad(features, ((0, 0), (0, frames - features.shape[1])), mode="edge")
        return np.ascontiguousarray(padded[None])

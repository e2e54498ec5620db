"""Steady noise: audio whose level hardly changes is no speech, however loud it is.

Speech rises and falls with its syllables and pauses: over 20 ms frames the level of the
Asterisk prompts spans 40-60 dB between its 5th and 95th percentiles, still 5.6 dB or
more with white noise as loud as the speech (0 dB SNR) mixed in. Fan, hiss and hum span
1-3 dB. A recogniser given such audio makes words up (Whisper base heard "1,5 cm" in
white noise), so it is not given it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import FRAME_MS

STEADY_RANGE_DB = 4.0
"""Audio whose 20 ms levels span less than this (5th to 95th percentile) is steady noise."""
_FLOOR = 1e-10
"""Mean square power of digital silence, so that it has a level (-100 dB)."""


def level_range_db(samples: npt.NDArray[np.floating], sample_rate: int) -> float:
    """How far the level of ``FRAME_MS`` frames of mono ``samples`` varies, in dB, from
    the 5th to the 95th percentile (0 for under one frame)."""
    size = sample_rate * FRAME_MS // 1000
    count = len(samples) // size
    if count == 0:
        return 0.0
    frames = np.asarray(samples[: count * size], dtype=np.float64).reshape(count, size)
    levels = 10.0 * np.log10(np.mean(frames**2, axis=1) + _FLOOR)
    low, high = np.percentile(levels, [5, 95])
    return float(high - low)


def is_steady_noise(samples: npt.NDArray[np.floating], sample_rate: int) -> bool:
    """Whether ``samples`` (mono) are silence or steady noise rather than speech."""
    return level_range_db(samples, sample_rate) < STEADY_RANGE_DB

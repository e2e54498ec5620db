"""Whether a microphone hears the audio being played: the echo path, detected from levels.

WebRTC's echo canceller, unsure of the echo path, suppresses whatever the microphone
picks up while audio plays, for seconds: a caller on a headset (no echo at all) who
speaks over an answer is attenuated by 6 to 17 dB, enough to lose words. This detector
compares the two level envelopes, 10 ms block by block: where there is an echo, the
microphone's level follows the played level at some lag under 500 ms. Every quarter
second it correlates them over the last 3 s (if audio played for 0.5 s of it); while the
best correlation stays under :data:`ECHO_CORRELATION`, no echo is heard.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

WINDOW_BLOCKS = 300
"""The 3 s of 10 ms blocks judged."""
MAX_LAG_BLOCKS = 50
"""The longest echo delay looked for (500 ms, about what WebRTC's canceller covers)."""
JUDGE_EVERY_BLOCKS = 25
MIN_PLAYING_BLOCKS = 50
"""A judgement needs at least 0.5 s of audio playing in the window."""
PLAYING_DB = -50.0
"""A played block at least this loud (dBFS) counts as playing."""
ECHO_CORRELATION = 0.4
_FLOOR_DB = -100.0


def level_db(block: npt.NDArray[np.int16]) -> float:
    """A block's level in dBFS (at least -100)."""
    power = float(np.mean(block.astype(np.float64) ** 2)) / 32768.0**2
    return max(_FLOOR_DB, 10.0 * np.log10(power + 1e-12))


class EchoPathDetector:
    """Judges from (played, heard) block levels whether the microphone hears the audio played.

    It starts by assuming it does (:attr:`heard` is true) and changes its mind only on
    evidence: a window with enough audio playing.
    """

    def __init__(self) -> None:
        self.heard = True
        self._played: deque[float] = deque(maxlen=WINDOW_BLOCKS)
        self._picked_up: deque[float] = deque(maxlen=WINDOW_BLOCKS)
        self._blocks = 0

    def add(self, played_db: float, picked_up_db: float) -> None:
        """The levels of one block of played audio and of the microphone's block then."""
        self._played.append(played_db)
        self._picked_up.append(picked_up_db)
        self._blocks += 1
        if self._blocks % JUDGE_EVERY_BLOCKS == 0:
            self._judge()

    def _judge(self) -> None:
        played, heard = np.array(self._played), np.array(self._picked_up)
        span = len(played) - MAX_LAG_BLOCKS
        playing = played[:span] > PLAYING_DB
        if span <= 0 or np.count_nonzero(playing) < MIN_PLAYING_BLOCKS:
            return
        # row ``lag``: what the microphone picked up ``lag`` blocks after each played block
        later = np.lib.stride_tricks.sliding_window_view(heard, span)[:MAX_LAG_BLOCKS]
        self.heard = _best_correlation(played[:span][playing], later[:, playing])


def _best_correlation(played: npt.NDArray[np.float64], later: npt.NDArray[np.float64]) -> bool:
    """Whether any row of ``later`` correlates with ``played`` at :data:`ECHO_CORRELATION`."""
    x = played - played.mean()
    y = later - later.mean(axis=1, keepdims=True)
    scale = np.sqrt((x**2).sum() * (y**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlations = np.where(scale > 0, y @ x / scale, 0.0)
    return bool(correlations.max() >= ECHO_CORRELATION)

"""Whether a microphone hears the audio being played: the echo path, detected from levels.

WebRTC's echo canceller, unsure of the echo path, suppresses whatever the microphone
picks up while audio plays, for seconds: a caller on a headset (no echo at all) who
speaks over an answer is attenuated by 6 to 17 dB, enough to lose words. This detector
compares the two level envelopes, 10 ms block by block: where there is an echo, the
microphone's level follows the played level at some lag under 500 ms. Both are placed
on the microphone's own timeline (its blocks never skip, even when they arrive in a
burst): played audio from the microphone block counted when it starts to play, block
after block. A server that falls behind counts played audio early by its backlog of
microphone blocks, so the lags looked at reach 1 s, past the echo delay itself. Every
quarter second it correlates them over the last 3 s (if audio played for 0.5 s of it);
an echo is heard where the best correlation reaches :data:`ECHO_CORRELATION`, and the
judgement changes only when several in a row disagree with it (:data:`JUDGEMENTS_TO_HEAR`,
:data:`JUDGEMENTS_TO_LOSE`): a
window where the echo delay moved (a server catching up) does not let the whole echo
through, and a chance correlation of a headset caller's voice does not suppress it.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import INT16_FULL_SCALE

WINDOW_SLOTS = 300
"""The 3 s judged."""
MAX_LAG_SLOTS = 100
"""The longest lag looked for (1 s): the echo delay (WebRTC's canceller covers about
500 ms) plus a server's backlog of microphone blocks."""
JUDGE_EVERY_SLOTS = 25
MIN_PLAYING_SLOTS = 50
"""A judgement needs audio playing in at least 0.5 s of the window."""
PLAYING_DB = -50.0
"""A played block at least this loud (dBFS) counts as playing."""
ECHO_CORRELATION = 0.4
JUDGEMENTS_TO_HEAR = 4
"""Judgements in a row that find an echo before :attr:`EchoPathDetector.heard` turns true
(1 s: a headset caller's voice correlates with the played levels by chance, for a while)."""
JUDGEMENTS_TO_LOSE = 2
"""Judgements in a row that find none before it turns false again."""
FLOOR_DB = -100.0


def level_db(block: npt.NDArray[np.int16]) -> float:
    """A block's level in dBFS (at least -100)."""
    samples = block.astype(np.float64)
    power = float(samples @ samples) / (max(len(samples), 1) * INT16_FULL_SCALE**2)
    return max(FLOOR_DB, 10.0 * math.log10(power + 1e-12))


class EchoPathDetector:
    """Judges from played and picked-up block levels whether the microphone hears the audio
    played.

    It starts by assuming it does not (:attr:`heard` is false: a caller without echo is
    never suppressed for want of evidence) and changes its mind only on evidence: several
    windows in a row, each with enough audio playing, that disagree with it.
    """

    def __init__(self) -> None:
        self.heard = False
        self._picked_up: deque[float] = deque([FLOOR_DB] * WINDOW_SLOTS, maxlen=WINDOW_SLOTS)
        self._played: deque[float] = deque([FLOOR_DB] * WINDOW_SLOTS, maxlen=WINDOW_SLOTS)
        self._ahead: dict[int, float] = {}  # played blocks for microphone blocks to come
        self._blocks = 0
        self._next_played = 0
        self._disagreeing = 0  # judgements in a row that disagree with ``heard``

    def played(self, db: float) -> None:
        """The next played block, of level ``db``: it plays after the one before it, or now."""
        slot = max(self._blocks, self._next_played)
        self._ahead[slot] = db
        self._next_played = slot + 1

    def picked_up(self, db: float) -> None:
        """The microphone's next block, of level ``db``."""
        self._picked_up.append(db)
        self._played.append(self._ahead.pop(self._blocks, FLOOR_DB))
        self._blocks += 1
        if self._blocks % JUDGE_EVERY_SLOTS == 0:
            self._judge()

    def _judge(self) -> None:
        played, heard = np.array(self._played), np.array(self._picked_up)
        span = WINDOW_SLOTS - MAX_LAG_SLOTS
        playing = played[:span] > PLAYING_DB
        if np.count_nonzero(playing) < MIN_PLAYING_SLOTS:
            return
        # row ``lag``: what the microphone picked up ``lag`` slots after each played block
        later = np.lib.stride_tricks.sliding_window_view(heard, span)[:MAX_LAG_SLOTS]
        if _best_correlation(played[:span][playing], later[:, playing]) == self.heard:
            self._disagreeing = 0
            return
        self._disagreeing += 1
        if self._disagreeing == (JUDGEMENTS_TO_LOSE if self.heard else JUDGEMENTS_TO_HEAR):
            self.heard = not self.heard
            self._disagreeing = 0


def _best_correlation(played: npt.NDArray[np.float64], later: npt.NDArray[np.float64]) -> bool:
    """Whether any row of ``later`` correlates with ``played`` at :data:`ECHO_CORRELATION`."""
    x = played - played.mean()
    y = later - later.mean(axis=1, keepdims=True)
    scale = np.sqrt((x**2).sum() * (y**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlations = np.where(scale > 0, y @ x / scale, 0.0)
    return bool(correlations.max() >= ECHO_CORRELATION)

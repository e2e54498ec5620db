"""The microphone's audio as it came, kept beside the echo canceller's output.

On a line not found to echo, while an answer plays, the canceller's output is used until
the :class:`~voicegate.audio.echo_match.EchoMatcher` tells that a new sound is not the
echo (about 0.1 s into it); AEC3 cuts that first 0.1 s of a caller's word to near
silence. Every decision on the caller's speech stays on the cancelled audio, but the
recogniser can be given the raw audio of the utterance instead: :class:`RawCapture` keeps
the last :data:`KEPT_S` of it, with where the canceller's output was last used.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

KEPT_S = 2.0
"""How much of the microphone's raw audio is kept: more than an utterance's start needs
(the pre-roll and the canceller's first 0.1 s, judged within 0.75 s of an answer's start)."""


class RawCapture:
    """The last :data:`KEPT_S` of one microphone's raw audio, counted in samples from its
    first."""

    def __init__(self, sample_rate: int) -> None:
        self._limit = round(KEPT_S * sample_rate)
        self._blocks: deque[npt.NDArray[np.int16]] = deque()
        self._kept = 0
        self._end = 0  # samples taken in all
        self._cancelled_until = 0  # end of the last block whose cancelled form was used

    def add(self, block: npt.NDArray[np.int16], cancelled: bool) -> None:
        """The microphone's next ``block`` (copied), and whether the canceller's output was
        used in its place."""
        self._blocks.append(block.copy())
        self._kept += len(block)
        self._end += len(block)
        if cancelled:
            self._cancelled_until = self._end
        while self._kept - len(self._blocks[0]) >= self._limit:
            self._kept -= len(self._blocks.popleft())

    def since(self, start: int) -> npt.NDArray[np.int16] | None:
        """The raw audio from sample ``start`` to now, where the canceller's output was used
        somewhere in it and all of it is kept; None otherwise."""
        first = self._end - self._kept
        if self._cancelled_until <= start or start < first:
            return None
        return np.concatenate(self._blocks)[start - first :]

"""The microphone's audio as it came, kept beside the echo canceller's output.

On a line not found to echo, while an answer plays, the canceller's output is used until
the :class:`~voicegate.audio.echo_match.EchoMatcher` tells that a new sound is not the
echo (about 0.1 s into it, or 0.75 s into the answer); AEC3 cuts the start of a caller's
word meanwhile, to near silence. Every decision on the caller's speech stays on the
cancelled audio, but the recogniser can be given the raw audio of the utterance instead:
:class:`RawCapture` keeps the last :data:`KEPT_S` of it, block by block, with whether the
canceller's output was used in each block's place and whether it cut the block.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import AudioFrame

KEPT_S = 2.0
"""How much of the microphone's raw audio is kept: more than an utterance's start needs
(the pre-roll and the cut, which ends within 0.85 s of an answer's start)."""


@dataclass(frozen=True, slots=True)
class _Block:
    start: int  # samples from the microphone's first
    samples: npt.NDArray[np.int16]
    cut: bool


class RawCapture:
    """The last :data:`KEPT_S` of one microphone's raw audio."""

    def __init__(self, sample_rate: int) -> None:
        self._rate = sample_rate
        self._limit = round(KEPT_S * sample_rate)
        self._blocks: deque[_Block] = deque()
        self._kept = 0
        self._end = 0  # samples taken in all
        self._cancelled_until = 0  # end of the last block whose cancelled form was used

    def add(self, block: npt.NDArray[np.int16], *, cancelled: bool, cut: bool) -> None:
        """The microphone's next ``block`` (copied); whether the canceller's output was used
        in its place, and whether that output cut a sound of it."""
        self._blocks.append(_Block(self._end, block.copy(), cut))
        self._kept += len(block)
        self._end += len(block)
        if cancelled:
            self._cancelled_until = self._end
        while self._kept - len(self._blocks[0].samples) >= self._limit:
            self._kept -= len(self._blocks.popleft().samples)

    def since(self, start: float, not_before: float | None = None) -> AudioFrame | None:
        """The raw audio from ``start`` (seconds) to now, where the canceller's output was
        used somewhere in it and all of it is kept, and from further back where the blocks
        just before ``start`` were cut (the sound began there), but never from before
        ``not_before`` (audio another utterance had); None otherwise."""
        first = round(start * self._rate)
        if self._cancelled_until <= first or first < self._end - self._kept:
            return None
        blocks = list(self._blocks)
        index = _block_at(blocks, first)
        while index and blocks[index - 1].cut:
            index -= 1
            first = blocks[index].start
        if not_before is not None:
            first = max(first, round(not_before * self._rate))
            index = _block_at(blocks, first)
        samples = np.concatenate([block.samples for block in blocks[index:]])
        return AudioFrame(samples[first - blocks[index].start :], self._rate, first / self._rate)


def _block_at(blocks: list[_Block], sample: int) -> int:
    """The index of the block that holds ``sample`` (a kept one)."""
    return next(i for i in range(len(blocks) - 1, -1, -1) if blocks[i].start <= sample)

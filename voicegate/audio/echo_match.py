"""Whether what a microphone picks up now is the echo of the audio played: by waveform.

WebRTC's echo canceller lets the echo through for a while when the echo path it tracks
moves (a server or client that fell behind). Whether that sound is the answer's echo or
a caller talking over the answer is told here without the canceller and without the
timeline the canceller needs: the microphone's last 0.25 s is searched for in the last
3 s played, wherever it lies, by normalised cross-correlation of the waveforms. An echo
(the played audio, delayed and quieter) matches at 1.0; a caller's voice over it lowers
the match by its share of the sound, and other speech matches by chance at up to 0.61
(espeak-ng's steady synthetic vowels against themselves reversed, 99th percentile). The
same voice as the answer's (a caller played by the same Piper voice) matched it at 0.8 by
chance, at the onset of a word, in 6 of 730, 0 of 876 and 3 of 876 placements (three runs of
fresh renderings; 0 of 730 after this rule): so a match is the echo only once the next
judgement, 0.1 s later, finds it at the same echo delay (:data:`SAME_DELAY`), as an echo's
does and a chance match's does not. An echo smeared by a room may match below
:data:`ECHO_MATCH`: it is then not told apart here, and the words decide as before.

The verdict (:attr:`EchoMatcher.verdict`) is judged every 0.1 s of the microphone and
holds through quiet windows: ``True`` the echo, ``False`` a sound that is not (or nothing
played for 3 s, so no echo can come; or the microphone stayed quiet while audio played
loud enough to echo above :data:`QUIET` at every echo delay, so this line does not echo
now), ``None`` not known yet (audio started to play again after 3 s of none, and nothing
could be told since).

The played audio's spectrum and energies are kept from one judgement to the next while
nothing more plays (a caller speaking just after an answer): a judgement then costs two
FFTs, not three.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
"""The rate of the echo canceller's audio (both streams)."""
WINDOW = SAMPLE_RATE // 4
"""The microphone's last 0.25 s is judged."""
SEARCHED = SAMPLE_RATE * 3
"""It is looked for in the last 3 s played: the echo delay and a server's backlog."""
ECHO_MATCH = 0.8
"""The normalised correlation at which the sound is the echo."""
QUIET = 30.0
"""A 10 ms block whose RMS is under this (about -60 dBFS) is silence, no echo."""
LOUD_BLOCK = SAMPLE_RATE // 100
MIN_LOUD = SAMPLE_RATE // 10
"""The loud part of the window is judged alone where it lasts at least 0.1 s (a shorter
one, the start of a sound after silence, is judged with the silence before it)."""
ECHO_DELAY = SAMPLE_RATE // 2
"""The longest echo delay allowed for (0.5 s): a sound is judged not to be the echo only
once this much more than the window has played, so that the start of an answer's echo,
which the played audio does not cover yet, is never taken for another sound."""
ECHO_LOSS = 30.0
"""The weakest echo allowed for is this many times quieter than what played (30 dB): a
quiet microphone is evidence of no echo only where what played was this much louder
than :data:`QUIET` (about -31 dBFS) at every echo delay."""
JUDGE_EVERY = SAMPLE_RATE // 10
"""A judgement holds for the next 0.1 s of the microphone."""
SAME_DELAY = SAMPLE_RATE // 250
"""Two matches 0.1 s apart are the same echo where their echo delays (the microphone's
sample against the played one it matched) differ by at most this (4 ms)."""


class _Recent:
    """The last ``limit`` samples of a stream, as one contiguous array."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._buffer = np.zeros(2 * limit, np.float64)
        self._end = 0  # samples in the buffer
        self.kept = 0  # of them, the last ones kept (at most ``limit``)

    def add(self, block: npt.NDArray[np.int16]) -> None:
        """The stream's next samples (copied)."""
        size = len(block)
        if self._end + size > len(self._buffer):  # move the kept samples to the front
            keep = min(self.kept, self._limit)
            self._buffer[:keep] = self._buffer[self._end - keep : self._end]
            self._end = keep
            if size > len(self._buffer) - keep:
                self._buffer = np.concatenate([self._buffer[:keep], np.zeros(size)])
        self._buffer[self._end : self._end + size] = block
        self._end += size
        self.kept = min(self.kept + size, self._limit)

    def clear(self) -> None:
        """Forget every sample kept."""
        self._end = self.kept = 0

    def last(self) -> npt.NDArray[np.float64]:
        """The samples kept, oldest first (a view: valid until the next :meth:`add`)."""
        return self._buffer[self._end - self.kept : self._end]


class EchoMatcher:
    """Keeps the last played and picked-up audio (16 kHz) and judges whether the latter is
    the former's echo (:meth:`is_echo`)."""

    def __init__(self) -> None:
        self._played = _Recent(SEARCHED)
        self._heard = _Recent(WINDOW)
        self._searched: tuple[int, npt.NDArray[np.complex128], npt.NDArray[np.float64]] | None
        self._searched = None  # (_played_total, its spectrum, its cumulative energy)
        self._since_judged = 0
        self._since_played = SEARCHED  # microphone samples since audio last played
        self._played_total = 0  # samples ever played, and picked up
        self._heard_total = 0
        self._match_delay: int | None = None  # the echo delay of the last judgement's match
        self.verdict: bool | None = False
        """Whether the microphone's sound is the echo (see the module's docstring)."""
        self.found = False
        """Whether the echo was ever found in what the microphone picked up: the line echoes
        (another voice matches by chance at 0.61 at most, under :data:`ECHO_MATCH`)."""

    def played(self, block: npt.NDArray[np.int16]) -> None:
        """The next audio played."""
        if self._since_played >= SEARCHED:
            self.verdict = None  # playing again: an echo may come, a sound must be judged
            self._played.clear()  # what played before cannot echo any more
            self._match_delay = None
        self._since_played = 0
        self._played_total += len(block)
        self._played.add(block)

    def picked_up(self, block: npt.NDArray[np.int16]) -> None:
        """The microphone's next audio; every 0.1 s of it, the verdict is judged again.
        ``block`` is copied: the caller may reuse its memory (an inbound batch writes the
        cleaned audio over it)."""
        self._heard.add(block)
        self._heard_total += len(block)
        self._since_played += len(block)
        self._since_judged += len(block)
        if self._since_judged >= JUDGE_EVERY:
            self._since_judged = 0
            if self._since_played >= SEARCHED:
                self.verdict = False
            elif (echo := self._judge()) is not None:
                self.verdict = echo

    def is_echo(self) -> bool:
        """Whether the microphone's sound, last judged loud, matched a stretch of the last
        3 s played."""
        return self.verdict is True

    def _judge(self) -> bool | None:
        """Whether the last 0.25 s (its loud part, see :data:`MIN_LOUD`) matches at the
        echo delay of the last judgement's match; a quiet one is not the echo where an echo
        was due (:func:`_echo_due`); None if it cannot be told (too quiet, a match not yet
        confirmed, or matching nothing while too little has played: :data:`ECHO_DELAY`)."""
        if self._heard.kept < WINDOW or self._played.kept < WINDOW:
            return None
        heard = self._heard.last()
        start, end = _loud_span(heard)
        if end - start < MIN_LOUD:
            start, end = 0, WINDOW
        heard = heard[start:end]
        played = self._played.last()
        energy = float(heard @ heard)
        if energy < QUIET**2 * WINDOW:
            # quiet: the echo of what played would be heard here by now, unless it is too weak
            # to matter (then a caller who speaks next passes raw from their first word)
            return None if self.verdict or not _echo_due(played) else False
        size = len(heard)
        played_spectrum, cumulative = self._searched_spectrum(played)
        # correlation of ``heard`` with every stretch of ``played`` of its length: circular
        # over SEARCHED samples, which no stretch wraps around (5-smooth: a fast FFT size)
        spectrum = played_spectrum * np.conj(np.fft.rfft(heard, SEARCHED))
        lagged = np.fft.irfft(spectrum, SEARCHED)[: len(played) - size + 1]
        stretch_energy = cumulative[size:] - cumulative[:-size]
        match = np.abs(lagged) / np.sqrt(np.maximum(stretch_energy, 1.0) * energy)
        best = int(np.argmax(match))
        if match[best] >= ECHO_MATCH:
            delay = (self._heard_total - WINDOW + start) - (self._played_total - len(played) + best)
            confirmed = (
                self._match_delay is not None and abs(delay - self._match_delay) <= SAME_DELAY
            )
            self._match_delay = delay
            if not confirmed:
                return None
            self.found = True
            return True
        self._match_delay = None
        return False if self._played.kept >= WINDOW + ECHO_DELAY else None

    def _searched_spectrum(
        self, played: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.complex128], npt.NDArray[np.float64]]:
        """The spectrum of ``played`` (the last 3 s played) and its cumulative energy from
        0: computed again only once more has played."""
        if self._searched is None or self._searched[0] != self._played_total:
            cumulative = np.concatenate([[0.0], np.cumsum(played**2)])
            self._searched = (self._played_total, np.fft.rfft(played, SEARCHED), cumulative)
        return self._searched[1], self._searched[2]


def _echo_due(played: npt.NDArray[np.float64]) -> bool:
    """Whether the last :data:`WINDOW` + :data:`ECHO_DELAY` played was loud enough, in every
    stretch of :data:`WINDOW` (one per echo delay), to echo above :data:`QUIET` into the
    microphone's window."""
    if len(played) < WINDOW + ECHO_DELAY:
        return False
    cumulative = np.concatenate([[0.0], np.cumsum(played[-(WINDOW + ECHO_DELAY) :] ** 2)])
    weakest = float(np.min(cumulative[WINDOW:] - cumulative[:-WINDOW]))
    return weakest >= (QUIET * ECHO_LOSS) ** 2 * WINDOW


def _loud_span(heard: npt.NDArray[np.float64]) -> tuple[int, int]:
    """Where ``heard`` runs from its first to its last 10 ms block louder than
    :data:`QUIET` (empty if none is): silence at either end may be a pause in the client's
    playout that the played audio lacks (the client ran out of audio), which would spoil the
    match of the echo on its other side."""
    blocks = heard[: len(heard) - len(heard) % LOUD_BLOCK].reshape(-1, LOUD_BLOCK)
    loud = np.flatnonzero(np.mean(blocks**2, axis=1) >= QUIET**2)
    if not len(loud):
        return 0, 0
    return int(loud[0]) * LOUD_BLOCK, (int(loud[-1]) + 1) * LOUD_BLOCK

"""A caller's turns that wait for the recogniser: bounded in number and in audio, never
dropped (see :class:`WaitingTurns`)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.voice.utterance import Transcribing

logger = logging.getLogger(__name__)

MAX_WAITING_UTTERANCES = 8
"""A caller's utterances that may wait for the recogniser as turns of their own; a later
one joins the latest of them."""
MAX_JOINED_AUDIO_S = 60.0
"""Once the latest waiting turn holds this much audio, the caller's audio is held back
(:attr:`WaitingTurns.has_room`) until the recogniser takes the oldest waiting turn."""
JOIN_GAP_S = 0.5
"""The silence put between utterances joined into one turn."""


class WaitingTurns:
    """The ended turns of one caller that the recogniser has not taken, oldest first.

    At most ``MAX_WAITING_UTTERANCES`` wait as turns of their own; the next utterance joins
    the latest of them (:meth:`join_latest`, after ``JOIN_GAP_S`` of silence: one
    transcript, one turn). Once that turn holds ``MAX_JOINED_AUDIO_S`` of audio,
    :attr:`has_room` is False until the recogniser takes the oldest one, so a session's
    memory stays bounded whatever the recogniser's delay.
    """

    def __init__(self) -> None:
        self._turns: deque[Transcribing] = deque()
        self._room = asyncio.Event()  # set while the caller's audio is taken
        self._room.set()

    @property
    def has_room(self) -> bool:
        """Whether the caller's audio may be taken now."""
        return self._room.is_set()

    async def room_for_audio(self) -> None:
        """Return once :attr:`has_room`."""
        await self._room.wait()

    def join_latest(self, sample_rate: int) -> Transcribing | None:
        """The latest waiting turn, reopened for the next utterance (``ended`` clear, a gap
        of silence pushed at ``sample_rate``), if the waiting turns are full; else None."""
        if len(self._turns) < MAX_WAITING_UTTERANCES:
            return None
        joined = self._turns[-1]
        joined.ended.clear()
        stream = joined.utterance.stream
        stream.push(AudioFrame(np.zeros(round(JOIN_GAP_S * sample_rate), np.int16), sample_rate))
        logger.info(
            "%d turns wait for the recogniser: this utterance joins the latest (%.1f s)",
            len(self._turns),
            stream.duration,
        )
        return joined

    def append(self, turn: Transcribing) -> None:
        """A turn that ended waits."""
        self._turns.append(turn)
        self._update_room()

    def joined_grew(self) -> None:
        """The latest turn took another utterance."""
        self._update_room()

    def take_oldest(self) -> None:
        """The recogniser takes the oldest turn."""
        self._turns.popleft()
        self._update_room()

    def _update_room(self) -> None:
        """Hold the caller's audio back while the waiting turns are full."""
        full = (
            len(self._turns) >= MAX_WAITING_UTTERANCES
            and self._turns[-1].utterance.stream.duration >= MAX_JOINED_AUDIO_S
        )
        if full and self._room.is_set():
            logger.warning(
                "the recogniser is %d turns behind: holding the caller's audio back",
                len(self._turns),
            )
            self._room.clear()
        elif not full:
            self._room.set()

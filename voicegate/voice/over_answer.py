"""Speech over a session's answer, as its listener judges it: each utterance's
:class:`Overlap` told what was heard, its barge-in acted on, and the prompt its stream is
recognised with."""

from __future__ import annotations

import logging
from collections.abc import Callable

from voicegate.stt.base import Transcript
from voicegate.voice.canceller_view import CancellerView
from voicegate.voice.notices import BargeIn, Floor
from voicegate.voice.overlap import Overlap
from voicegate.voice.utterance import Utterance

logger = logging.getLogger(__name__)


class OverAnswer:
    """Judges the utterances of one session that begin over its answer (an
    :attr:`Utterance.overlap`) against ``answer_text()`` and the floor as ``floor()`` gives
    it, and calls ``on_interrupt`` at once when one interrupts. Utterances without an
    overlap are left alone."""

    def __init__(
        self,
        floor: Callable[[], Floor],
        answer_text: Callable[[], str],
        on_interrupt: Callable[[BargeIn], None],
    ) -> None:
        self._floor = floor
        self._answer_text = answer_text
        self._on_interrupt = on_interrupt
        self.canceller = CancellerView()
        """The session's echo canceller, if it has one."""

    def prompt(self, overlap: Overlap | None) -> str | None:
        """The prompt an utterance is recognised with now: its :class:`Overlap`'s, but none
        on a line known to echo, where speech over the answer is likely its echo, which the
        echo guard knows by its words (prompted, Whisper wrote quiet echo's "once upon" as
        "once a-" and "once upon a month")."""
        if overlap is None or self.canceller.line_echoes():
            return None
        return overlap.prompt

    def on_frame(self, utterance: Utterance, speech: bool, spoken_ms: float) -> None:
        """A frame of ``utterance`` (``speech`` or not), after ``spoken_ms`` of speech: it
        may interrupt on its length, and under ``semantic`` asks for a pass over the speech
        so far, again and again."""
        overlap = utterance.overlap
        if overlap is None:
            return
        echo = speech and self.canceller.is_echo()
        self._interrupt(utterance, overlap.on_frame(speech, echo, self._floor(), spoken_ms))
        self._reprompt(utterance)  # the line may have been found to echo
        if overlap.first_look_due(spoken_ms):
            utterance.stream.settle()

    def on_partial(self, utterance: Utterance, text: str, spoken_ms: float) -> None:
        """A partial transcript of ``utterance``'s speech so far."""
        overlap = utterance.overlap
        if overlap is None:
            return
        answer, floor = self._answer_text(), self._floor()
        logger.debug("over the answer, %.0f ms heard as %r", spoken_ms, text)
        self._interrupt(utterance, overlap.on_partial(text, answer, floor, spoken_ms))

    def on_final(self, utterance: Utterance, transcript: Transcript) -> str | None:
        """``utterance``'s final transcript: why it is no turn (``acknowledgement``,
        ``echo``), or None where it is one (and interrupts now if it still must)."""
        overlap = utterance.overlap
        if overlap is None:
            return None
        spoken_ms = transcript.audio_duration * 1000.0
        answer, floor = self._answer_text(), self._floor()
        ignored, barge_in = overlap.on_final(transcript.text, answer, floor, spoken_ms)
        logger.debug("over the answer, final %r: %s", transcript.text, ignored or "a turn")
        if ignored is None:
            self._interrupt(utterance, barge_in)
        return ignored

    def _interrupt(self, utterance: Utterance, barge_in: BargeIn | None) -> None:
        """Act on ``utterance``'s barge-in, if any: it is a turn now, recognised without a
        prompt."""
        if barge_in is not None:
            self._reprompt(utterance)
            self._on_interrupt(barge_in)

    def _reprompt(self, utterance: Utterance) -> None:
        """Give ``utterance``'s stream the prompt it has now (:meth:`prompt`)."""
        utterance.stream.prompt = self.prompt(utterance.overlap)

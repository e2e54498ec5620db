"""One utterance begun over an answer: how its :class:`Contest` goes, frame by frame.

The listener opens an :class:`Overlap` for an utterance that starts while the floor is
``thinking`` or ``speaking`` and tells it every frame (:meth:`Overlap.on_frame`), every
partial transcript (:meth:`Overlap.on_partial`) and the final one
(:meth:`Overlap.on_final`). It answers with the :class:`BargeIn` to act on, once, when
the speech interrupts, and at the end whether the utterance was no turn (an
acknowledgement, or the answer's echo).
"""

from __future__ import annotations

from dataclasses import dataclass

from voicegate.voice.interruption import (
    ACKNOWLEDGEMENT_PROMPT,
    SEMANTIC_FIRST_LOOK_MS,
    Contest,
    Verdict,
)
from voicegate.voice.live_settings import LiveSettings
from voicegate.voice.notices import BargeIn, Floor
from voicegate.voice.session import InterruptionStrategy, VoiceSettings

ECHO_SHARE = 0.5
"""An utterance over an answer whose speech was this much the answer's echo is its echo."""


@dataclass(slots=True)
class Overlap:
    """The judgement so far of an utterance that began over an answer."""

    contest: Contest
    interrupted: bool = False
    settled: bool = False  # a verdict other than WAIT was reached
    speech_frames: int = 0  # frames of speech judged, and of them the echo's
    echo_frames: int = 0

    @classmethod
    def begin(cls, floor: Floor, settings: VoiceSettings, live: LiveSettings) -> Overlap | None:
        """The judgement of an utterance that starts while the floor is ``floor``, by the
        strategy set for it (``disabled`` while the client turned interruptions off); None
        while the caller has the floor."""
        if floor is Floor.LISTENING:
            return None
        strategy = (
            settings.interruption_speaking
            if floor is Floor.SPEAKING
            else settings.interruption_thinking
        )
        if not live.interruptions:
            strategy = InterruptionStrategy.DISABLED
        return cls(Contest(strategy, floor.value, live.barge_in_ms))

    @property
    def mostly_echo(self) -> bool:
        """Whether at least :data:`ECHO_SHARE` of its speech was the answer's echo: such
        speech neither interrupts on its length nor with its words (a moment the echo is not
        told, a window across a gap in the client's playout, does not make it the caller)."""
        return self.echo_frames >= ECHO_SHARE * max(self.speech_frames, 1)

    @property
    def wants_words(self) -> bool:
        """Whether words still decide (``semantic``, not settled): the listener then asks
        the recogniser for a pass again and again once :data:`SEMANTIC_FIRST_LOOK_MS` of
        speech has passed."""
        return self.contest.strategy is InterruptionStrategy.SEMANTIC and not self.settled

    @property
    def prompt(self) -> str | None:
        """What the recogniser is prompted with for the utterance: under ``semantic``,
        :data:`ACKNOWLEDGEMENT_PROMPT` until it interrupts (it may be an acknowledgement
        until then), then nothing (it is a turn, and its words are the caller's)."""
        semantic = self.contest.strategy is InterruptionStrategy.SEMANTIC
        return ACKNOWLEDGEMENT_PROMPT if semantic and not self.interrupted else None

    def on_frame(self, speech: bool, echo: bool, floor: Floor, spoken_ms: float) -> BargeIn | None:
        """A frame (``speech`` or not; ``echo``: the sound now is the answer's echo) with
        the floor as it is now and ``spoken_ms`` of speech so far."""
        if speech:  # (the caller's silence while the answer plays is the answer's echo)
            self.speech_frames += 1
            self.echo_frames += echo
        if self.settled:
            return None
        if floor is Floor.LISTENING:
            self.settled = True  # the answer ended first: nothing left to interrupt
            return None
        verdict = self.contest.on_speech(spoken_ms, echo=self.mostly_echo)
        return self._act(verdict, spoken_ms, "")

    def first_look_due(self, spoken_ms: float) -> bool:
        """Whether the recogniser should transcribe the speech so far now."""
        return self.wants_words and spoken_ms >= SEMANTIC_FIRST_LOOK_MS

    def on_partial(
        self, text: str, answer_text: str, floor: Floor, spoken_ms: float
    ) -> BargeIn | None:
        """A partial transcript of the speech so far, against the answer's text."""
        if self.settled or floor is Floor.LISTENING:
            return None
        verdict = self.contest.on_words(text, answer_text, final=False, echo=self.mostly_echo)
        return self._act(verdict, spoken_ms, text)

    def on_final(
        self, text: str, answer_text: str, floor: Floor, spoken_ms: float
    ) -> tuple[str | None, BargeIn | None]:
        """The final transcript: why the utterance is no turn (``acknowledgement``,
        ``echo``; None: it is one), and the barge-in still to act on, if any."""
        echo = self.mostly_echo and not self.interrupted
        verdict = self.contest.on_words(text, answer_text, final=True, echo=echo)
        if verdict is Verdict.ECHO or (verdict is Verdict.ACKNOWLEDGEMENT and not self.interrupted):
            return verdict.value, None
        if self.settled or floor is Floor.LISTENING:
            return None, None
        return None, self._act(verdict, spoken_ms, text)

    def _act(self, verdict: Verdict, spoken_ms: float, text: str) -> BargeIn | None:
        if verdict is Verdict.WAIT:
            return None
        self.settled = True
        if verdict is not Verdict.INTERRUPT or self.interrupted:
            return None
        self.interrupted = True
        contest = self.contest
        return BargeIn(contest.during, contest.strategy.value, spoken_ms, text)

"""An utterance over an answer (:class:`Overlap`): its echo is judged by its share of the
speech, not by the last moment."""

from __future__ import annotations

from voicegate.voice.interruption import Contest
from voicegate.voice.notices import BargeIn, Floor
from voicegate.voice.overlap import Overlap
from voicegate.voice.session import InterruptionStrategy

FRAME_MS = 20
STORY = "Once upon a time there was a lighthouse keeper who lived alone on a rocky island."


def _overlap() -> Overlap:
    return Overlap(Contest(InterruptionStrategy.SEMANTIC, "speaking", barge_in_ms=120))


def _speak(overlap: Overlap, echo: list[bool], start: int = 0) -> list[BargeIn]:
    """Frames of speech, ``echo`` or not, one after the other from frame ``start`` on; the
    barge-ins they made."""
    barge_ins = []
    for index, is_echo in enumerate(echo, start):
        spoken_ms = (index + 1) * FRAME_MS
        if (barge_in := overlap.on_frame(True, is_echo, Floor.SPEAKING, spoken_ms)) is not None:
            barge_ins.append(barge_in)
    return barge_ins


def test_a_moment_not_told_as_echo_in_the_echo_neither_interrupts_nor_makes_words_count() -> None:
    leaked = _overlap()
    # 1.6 s of the answer's leaked echo, in which 0.2 s was not told as echo
    frames = [True] * 50 + [False] * 10 + [True] * 20
    assert _speak(leaked, frames[:55]) == []
    assert leaked.on_partial("I don't keep her.", STORY, Floor.SPEAKING, 1100.0) is None
    assert leaked.on_partial("I don't keep her. Who", STORY, Floor.SPEAKING, 1100.0) is None
    assert _speak(leaked, frames[55:], start=55) == []


def test_the_callers_own_speech_interrupts_once_its_words_are_heard() -> None:
    caller = _overlap()
    assert caller.on_partial("Wait", STORY, Floor.SPEAKING, 200.0) is None
    assert caller.on_partial("Wait, stop", STORY, Floor.SPEAKING, 400.0) is not None
    talking = _overlap()  # words, then speech that goes on past the wait: interrupts
    assert talking.on_partial("Thank", STORY, Floor.SPEAKING, 200.0) is None
    assert len(_speak(talking, [False] * 55)) == 1

"""The interruption rules on plain text: acknowledgements, the echo guard, each strategy."""

from __future__ import annotations

import pytest

from voicegate.voice.interruption import (
    Contest,
    Verdict,
    echoes,
    is_acknowledgement,
    may_be_acknowledgement,
)
from voicegate.voice.session import InterruptionStrategy

STORY = "Once upon a time there was a lighthouse keeper who lived alone on a rocky island."


@pytest.mark.parametrize(
    "text", ["Uh-huh.", "Mm-hmm.", "mhm", "Hmmm.", "Yeah.", "Right.", "Okay.", "Yeah, okay.",
             "Oh, I see.", "Sure thing", "Uh.", "Ow.", "and mm", "M-H-M.", "mmmo", "NMM.", "NMO",
             "N-M-A-M.", "Yeah, m-h-m.", "N-m-hmm.", "Mm-m-hmm."]
)  # fmt: skip
def test_acknowledgements(text: str) -> None:
    assert is_acknowledgement(text)


@pytest.mark.parametrize(
    "text", ["", "...", "Wait.", "No.", "Stop.", "Sorry?", "Yeah, but I wanted pasta.",
             "okay okay okay okay okay", "Um, well.", "Uh, so.", "And wait.", "and no", "Mm, stop.",
             "And then...", "Mm, no.", "Mo.", "Nnno.", "Mom.", "Hm, now.", "N-O.", "A-M.",
             "M-A-N-Y", "N-N.", "Mm-hmm, wait."]
)  # fmt: skip
def test_not_acknowledgements(text: str) -> None:
    assert not is_acknowledgement(text)


@pytest.mark.parametrize(
    "text", ["thank", "Thank you", "Uh", "uh-hu", "Yeah, ok", "Oh, I", "o", "mm"]
)  # fmt: skip
def test_what_may_still_grow_into_an_acknowledgement(text: str) -> None:
    assert may_be_acknowledgement(text)


@pytest.mark.parametrize(
    "text", ["", "Wait", "thank you but", "Uh, wait", "Yeah, but", "Well", "okay okay okay okay o"]
)  # fmt: skip
def test_what_cannot_grow_into_an_acknowledgement(text: str) -> None:
    assert not may_be_acknowledgement(text)


def test_echo_is_consecutive_words_of_the_answer_in_order() -> None:
    assert echoes("upon a time there", STORY)
    assert echoes("a rocky island.", STORY)
    assert not echoes("time upon a", STORY)
    assert not echoes("upon a time there was a dragon", STORY)
    assert not echoes("", STORY)
    assert echoes("upon a ti", STORY, partial=True)  # a partial may stop inside a word
    assert not echoes("upon a ti", STORY)
    assert not echoes("ti", STORY, partial=True)  # but not after no whole word


def _contest(strategy: InterruptionStrategy) -> Contest:
    return Contest(strategy, "speaking", barge_in_ms=120)


def test_each_strategy_on_the_length_of_speech() -> None:
    verdicts = {
        strategy: [_contest(strategy).on_speech(ms) for ms in (0, 119, 120, 999, 1000)]
        for strategy in InterruptionStrategy
    }
    wait, cut = Verdict.WAIT, Verdict.INTERRUPT
    assert verdicts == {
        InterruptionStrategy.IMMEDIATE: [cut] * 5,
        InterruptionStrategy.CONFIRMED: [wait, wait, cut, cut, cut],
        InterruptionStrategy.SEMANTIC: [wait] * 5,  # no words yet: see below
        InterruptionStrategy.DISABLED: [wait] * 5,
    }


def test_semantic_interrupts_on_length_only_once_it_heard_words_of_the_callers_own() -> None:
    wordless = _contest(InterruptionStrategy.SEMANTIC)
    assert wordless.on_words("", STORY, final=False) is Verdict.WAIT
    assert [wordless.on_speech(ms) for ms in (999, 1000, 5000)] == [Verdict.WAIT] * 3
    echo = _contest(InterruptionStrategy.SEMANTIC)
    assert echo.on_words("a lighthouse", STORY, final=False) is Verdict.WAIT
    assert [echo.on_speech(ms) for ms in (999, 1000, 5000)] == [Verdict.WAIT] * 3
    undecided = _contest(InterruptionStrategy.SEMANTIC)
    assert undecided.on_words("Thank", STORY, final=False) is Verdict.WAIT
    assert [undecided.on_speech(ms) for ms in (999, 1000)] == [Verdict.WAIT, Verdict.INTERRUPT]


def test_semantic_lets_acknowledgements_pass_and_words_interrupt() -> None:
    semantic = _contest(InterruptionStrategy.SEMANTIC)
    assert semantic.on_words("uh-huh", STORY, final=False) is Verdict.WAIT
    assert semantic.on_words("Uh-huh.", STORY, final=True) is Verdict.ACKNOWLEDGEMENT
    assert semantic.on_words("Wait, stop.", STORY, final=True) is Verdict.INTERRUPT
    assert semantic.on_words("", STORY, final=True) is Verdict.KEEP  # no words: no turn either
    # the start of an acknowledgement waits for the words that tell
    growing = _contest(InterruptionStrategy.SEMANTIC)
    assert growing.on_words("Thank", STORY, final=False) is Verdict.WAIT
    assert growing.on_words("Thank you.", STORY, final=True) is Verdict.ACKNOWLEDGEMENT


def test_semantic_interrupts_on_the_second_partial_in_a_row_unlike_an_acknowledgement() -> None:
    stop = _contest(InterruptionStrategy.SEMANTIC)
    assert stop.on_words("Uh", STORY, final=False) is Verdict.WAIT
    assert stop.on_words("Uh, wait", STORY, final=False) is Verdict.WAIT
    assert stop.on_words("Uh, wait, st", STORY, final=False) is Verdict.INTERRUPT
    made_up = _contest(InterruptionStrategy.SEMANTIC)  # a first look that made words up
    assert made_up.on_words("I'll...", STORY, final=False) is Verdict.WAIT
    assert made_up.on_words("Ow.", STORY, final=False) is Verdict.WAIT
    assert made_up.on_words("yeah but", STORY, final=False) is Verdict.WAIT
    assert made_up.on_words("Ow.", STORY, final=True) is Verdict.ACKNOWLEDGEMENT


def test_semantic_lets_a_hum_whisper_hears_as_and_mm_pass() -> None:
    """espeak-ng's "mm-hmm" over an answer, as the server's log showed it heard; the same
    opening followed by a real word interrupts."""
    hum = _contest(InterruptionStrategy.SEMANTIC)
    partials = ["", "Mm", "Mmmmm", "And then..."]
    assert [hum.on_words(text, STORY, final=False) for text in partials] == [Verdict.WAIT] * 4
    assert hum.on_words("and mm", STORY, final=True) is Verdict.ACKNOWLEDGEMENT
    stop = _contest(InterruptionStrategy.SEMANTIC)
    assert stop.on_words("Mm", STORY, final=False) is Verdict.WAIT
    assert stop.on_words("And wait", STORY, final=False) is Verdict.WAIT
    assert stop.on_words("And wait, stop", STORY, final=False) is Verdict.INTERRUPT


@pytest.mark.parametrize("strategy", list(InterruptionStrategy))
def test_the_echo_guard_holds_for_every_strategy(strategy: InterruptionStrategy) -> None:
    contest = _contest(strategy)
    assert contest.on_words("a lighthouse kee", STORY, final=False) is Verdict.WAIT
    assert contest.on_words("a lighthouse keeper", STORY, final=True) is Verdict.ECHO


def test_other_strategies_keep_words_as_a_turn() -> None:
    for strategy in (InterruptionStrategy.CONFIRMED, InterruptionStrategy.DISABLED):
        contest = _contest(strategy)
        assert contest.on_words("uh-huh", STORY, final=True) is Verdict.KEEP
        assert contest.on_words("stop", STORY, final=False) is Verdict.WAIT

"""Which transcripts stop mid-phrase, so that a pause does not end the turn."""

from __future__ import annotations

import pytest

from voicegate.voice.phrase_end import sounds_unfinished


@pytest.mark.parametrize(
    "text",
    [
        "I'd like to book a table for",
        "I'd like to book a table for.",  # Whisper's full stop on a half sentence
        "My name is John and I...",
        "Can you tell me the weather in",
        "Can you tell me that we're in",  # espeak-ng's British "the weather in", as heard
        "The meeting is on",
        "Could you remind me to?",  # a question mark on a half question
        "Please send the report to",
        "So I was thinking, ",
        "The time will be...",  # Whisper's ellipsis: the speaker trailed off
        "At the sound of the tone…",
    ],
)
def test_words_that_stop_mid_phrase(text: str) -> None:
    assert sounds_unfinished(text)


@pytest.mark.parametrize(
    "text",
    [
        "Book a table for four people.",
        "Can you tell me the weather in Paris?",
        "What is it for?",
        "Who are you talking to?",
        "Please log me in.",
        "I can't sign in",
        "Turn it on",
        "Hold on",
        "And so on.",
        "Moving on",
        "Yes I do",
        "",
    ],
)
def test_words_that_may_end_a_sentence(text: str) -> None:
    assert not sounds_unfinished(text)

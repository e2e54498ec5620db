"""What the turn-taking evaluation's callers say: which cut sentences it keeps."""

from __future__ import annotations

import numpy as np
import pytest

from voicegate.bench.turn_items import Hesitation, cut_between_words
from voicegate.testing import ScriptedSTT

REPORT = ("Please send the report to", "my manager.")
TABLE = ("I'd like to book a table for", "four people tonight.")


@pytest.mark.parametrize(
    ("sentence", "before", "after", "kept"),
    [
        (REPORT, "Please send the report to.", "My manager.", True),
        (REPORT, "Please send the report.", "My manager.", False),  # "to" not heard
        (REPORT, "Please send the report to", "To my manager.", False),  # cut inside "to"
        (REPORT, "Please send the report to", "", False),
        (TABLE, "I'd like to book a table for", "Four people to night.", True),  # a split word
        (TABLE, "I'd like to book a table for", "For people tonight.", True),  # a homophone
    ],
)
async def test_a_sentence_is_kept_only_if_cut_between_the_words_around_the_pause(
    sentence: tuple[str, str], before: str, after: str, kept: bool
) -> None:
    stt = ScriptedSTT([before, after])
    silence = np.zeros(800, np.int16)
    item = Hesitation("piper", " ... ".join(sentence), silence, silence)

    assert await cut_between_words(stt, item, *sentence) is kept
    assert stt.heard == [before, after]

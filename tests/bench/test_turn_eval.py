"""The turn-taking evaluation's own judgements, on plain messages."""

from __future__ import annotations

from voicegate.bench.conversation import Message, Spoken
from voicegate.bench.turn_eval import ends_second_part

SECOND = Spoken(first_loud=12.0, last_loud=13.5, last_loud_at=6.02)
"""A second part whose last loud sample ends at 6.02 s on the stream's clock."""


def _ends(*ats: float) -> list[Message]:
    return [(10.0 + at, {"type": "speech_end", "at": at, "duration": 0.5}) for at in ats]


def test_the_end_at_the_pause_does_not_end_the_second_part() -> None:
    assert not ends_second_part(_ends(1.22, 1.64, 2.8), SECOND)
    assert not ends_second_part(_ends(), SECOND)


def test_an_end_the_vad_put_before_a_soft_last_sound_ends_the_second_part() -> None:
    # the fixed timer's real "... Asterisk Open Source PBX": the VAD ended it at 5.78 s
    assert ends_second_part(_ends(1.22, 4.34, 4.96, 5.78), SECOND)
    assert ends_second_part(_ends(1.22, 6.10), SECOND)


def test_an_end_inside_the_second_part_does_not_end_it() -> None:
    # 300 ms of silence and a word after it: the end of a piece, not of the utterance
    assert not ends_second_part(_ends(1.22, 5.62), SECOND)

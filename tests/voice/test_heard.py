"""What the caller heard of an interrupted answer, from the client's ``played`` marks."""

from __future__ import annotations

from voicegate.core.models import EventType
from voicegate.testing import ScriptedSTT, voice_harness
from voicegate.voice.client_messages import Played
from voicegate.voice.heard import Heard, words_heard
from voicegate.voice.notices import AnswerEnded, AnswerStarted, FinalTranscript

TEN_WORDS = "one two three four five six seven eight nine ten"


def test_the_words_heard_are_the_clauses_played_and_the_share_of_the_one_cut() -> None:
    pieces = [("One two three.", 300.0), ("Four five six seven.", 400.0)]
    assert words_heard(pieces, 0) == ""
    assert words_heard(pieces, 299) == "One two"
    assert words_heard(pieces, 300) == "One two three."
    assert words_heard(pieces, 500) == "One two three. Four five"
    assert words_heard(pieces, 10_000) == "One two three. Four five six seven."


async def test_an_interrupted_answer_records_what_its_played_marks_cover() -> None:
    async with (
        voice_harness(ScriptedSTT([TEN_WORDS])) as harness,  # the echo says it back
        harness.call(hold_playout=True) as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        started = await caller.transport.wait_for(AnswerStarted)
        assert started.response_id is not None
        await caller.transport.wait_until(lambda: caller.transport.played != [], "audio")
        await caller.transport.send(Played(started.response_id, 300))
        await caller.transport.send(Played(started.response_id, 450))
        await caller.transport.send(Played("another answer", 900))  # stale: ignored
        await caller.transport.interrupt()
        ended = await caller.transport.wait_for(AnswerEnded)
        await harness.kit.wait_delivered(caller.room_id)
        timeline = await harness.kit.get_timeline(caller.room_id)
    assert ended.interrupted
    assert len(caller.transport.of_type(FinalTranscript)) == 1  # the heard record is no turn
    assert ended.heard == Heard(450, "one two three four")  # ToneTTS: 100 ms a word
    answer = timeline[1]
    [record] = [e for e in timeline if e.type is EventType.SYSTEM]
    assert record.metadata["heard"] == {
        "text": "one two three four",
        "interrupted_at_ms": 450,
        "event_id": answer.id,
        "response_id": answer.response_id,
        "turn_id": started.turn_id,
        "session_id": caller.session_id,
    }


async def test_without_played_marks_nothing_is_claimed_heard() -> None:
    async with (
        voice_harness(ScriptedSTT([TEN_WORDS])) as harness,
        harness.call(hold_playout=True) as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(AnswerStarted)
        await caller.transport.interrupt()
        ended = await caller.transport.wait_for(AnswerEnded)
        timeline = await harness.kit.get_timeline(caller.room_id)
    assert ended.interrupted
    assert ended.heard is None
    assert [e for e in timeline if e.type is EventType.SYSTEM] == []


async def test_an_answer_cut_by_the_caller_leaving_records_nothing_heard() -> None:
    async with voice_harness(ScriptedSTT([TEN_WORDS])) as harness:
        async with harness.call(hold_playout=True) as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            started = await caller.transport.wait_for(AnswerStarted)
            assert started.response_id is not None
            await caller.transport.wait_until(lambda: caller.transport.played != [], "audio")
            await caller.transport.send(Played(started.response_id, 450))
        # the session has ended with the answer unfinished
        timeline = await harness.kit.get_timeline(caller.room_id)
    [ended] = caller.transport.of_type(AnswerEnded)
    assert ended.interrupted
    assert ended.heard is None
    assert [e for e in timeline if e.type is EventType.SYSTEM] == []

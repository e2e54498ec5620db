"""Typed words in a voice session: ``say`` is a turn, ``text`` a message no one answers."""

from __future__ import annotations

from voicegate.core.models import Visibility
from voicegate.testing import ScriptedSTT, voice_harness
from voicegate.voice.client_messages import PostText, Say
from voicegate.voice.notices import AnswerEnded, AnswerStarted, FinalTranscript, RoomEventNotice


async def test_a_typed_say_is_a_turn_answered_aloud_like_a_spoken_one() -> None:
    async with voice_harness(ScriptedSTT(["spoken words"])) as harness, harness.call() as caller:
        await caller.transport.send(Say("typed words"))
        ended = await caller.transport.wait_for(AnswerEnded)
        await caller.say(speech_ms=600, silence_ms=400)  # a spoken turn after it
        await caller.transport.wait_for(AnswerEnded, count=2)
        timeline = await harness.kit.get_timeline(caller.room_id)
    typed, typed_answer, spoken, _ = timeline
    [first, second] = caller.transport.of_type(FinalTranscript)
    assert (first.text, first.event_id) == ("typed words", typed.id)
    assert first.turn_id == typed.metadata["voice"]["turn_id"]
    assert typed.metadata["voice"]["typed"] is True
    assert "typed" not in spoken.metadata["voice"]
    assert typed_answer.metadata["responds_to"] == typed.id
    started = caller.transport.of_type(AnswerStarted)[0]
    assert (started.text, started.turn_id) == ("typed words", first.turn_id)
    assert not ended.interrupted
    assert second.text == "spoken words"


async def test_a_posted_text_reaches_the_rooms_people_and_no_one_answers() -> None:
    async with (
        voice_harness(ScriptedSTT([])) as harness,
        harness.call() as alice,
        harness.call(alice.room_id, "bob") as bob,
    ):
        await alice.transport.send(PostText("back in five"))
        told = await alice.transport.wait_for(RoomEventNotice)
        seen = await bob.transport.wait_for(RoomEventNotice)
        await harness.kit.wait_answers(alice.room_id)
        await harness.kit.wait_delivered(alice.room_id)
        timeline = await harness.kit.get_timeline(alice.room_id)
    [posted] = timeline  # no answer
    assert posted.visibility == Visibility.TRANSPORT
    assert posted.metadata["text"] == {"session_id": alice.session_id}
    assert told.event.id == seen.event.id == posted.id
    assert told.turn_id is None
    assert not alice.transport.of_type(FinalTranscript)
    assert not alice.transport.of_type(AnswerStarted)
    assert not bob.transport.of_type(AnswerStarted)

"""Settings a client changes during its session: push-to-talk with ``commit``, no barge-in."""

from __future__ import annotations

from voicegate.testing import ScriptedSTT, voice_harness
from voicegate.voice.client_messages import Commit, SessionUpdate
from voicegate.voice.live_settings import LiveSettings
from voicegate.voice.notices import (
    AnswerEnded,
    AnswerStarted,
    BargeIn,
    FinalTranscript,
    SessionUpdated,
    SpeechEnded,
)
from voicegate.voice.session import VoiceSettings


async def test_push_to_talk_ends_a_turn_at_commit_and_not_at_silence() -> None:
    async with voice_harness(ScriptedSTT(["held", "free"])) as harness, harness.call() as caller:
        await caller.transport.send(SessionUpdate({"turn_detection": "manual"}))
        updated = await caller.transport.wait_for(SessionUpdated)
        await caller.say(speech_ms=600, silence_ms=2000)  # far more than end_of_speech_ms
        await caller.transport.drained()
        before_commit = list(caller.transport.notices)
        await caller.transport.send(Commit())
        final = await caller.transport.wait_for(FinalTranscript)
        await caller.transport.send(Commit())  # nothing in progress: nothing happens
        await caller.transport.send(SessionUpdate({"turn_detection": "server"}))
        await caller.say(speech_ms=600, silence_ms=400)  # the server ends this one again
        second = await caller.transport.wait_for(FinalTranscript, count=2)
    assert updated.settings == LiveSettings(300, 120, "manual", True)
    assert not [n for n in before_commit if isinstance(n, SpeechEnded | FinalTranscript)]
    assert final.text == "held"
    assert second.text == "free"
    assert len(caller.transport.of_type(SpeechEnded)) == 2


async def test_with_interruptions_off_speech_over_an_answer_does_not_cut_it() -> None:
    settings = VoiceSettings(barge_in_ms=0)
    async with (
        voice_harness(ScriptedSTT(["tell me a story", "okay"]), settings=settings) as harness,
        harness.call(hold_playout=True) as caller,
    ):
        await caller.transport.send(SessionUpdate({"interruptions": False}))
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(AnswerStarted)
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(FinalTranscript, count=2)
        caller.transport.finish_playout()
        ended = await caller.transport.wait_for(AnswerEnded)
    assert not caller.transport.of_type(BargeIn)
    assert not ended.interrupted

"""Voice sessions end to end on fakes (voicegate.testing): the real gateway, inbound path,
VAD, endpointer, listener, turns, speaker and room engine; no models, no ports, no waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voicegate import (
    Channel,
    ChannelCategory,
    ChannelOutput,
    ChannelType,
    HookResult,
    HookTrigger,
    RoomContext,
    RoomEvent,
    TextContent,
)
from voicegate.stt.base import STTStream, Transcript
from voicegate.testing import Caller, ScriptedSTT, ToneTTS, silence, voice_harness
from voicegate.testing.transport import WAIT_LIMIT_S
from voicegate.voice.notices import (
    AnswerEnded,
    AnswerStarted,
    BargeIn,
    FinalTranscript,
    Floor,
    Notice,
    PartialTranscript,
    RoomEventNotice,
    SessionError,
    SpeechEnded,
    SpeechStarted,
    TurnMetrics,
    TurnState,
)
from voicegate.voice.session import EndOfTurn, InterruptionStrategy, VoiceSession, VoiceSettings

SETTINGS = VoiceSettings(partial_interval_ms=200, barge_in_ms=120)


def kinds(notices: list[Notice]) -> list[str]:
    return [type(notice).__name__ for notice in notices]


def answers(caller: Caller) -> list[RoomEvent]:
    return [n.event for n in caller.transport.of_type(RoomEventNotice) if n.event.response_id]


class Teller(Channel):
    """Answers every voice message with the sentences the test puts in ``parts`` (None ends
    an answer); ``closed`` counts the answers that ended."""

    channel_type = ChannelType.AI
    category = ChannelCategory.INTELLIGENCE

    def __init__(self) -> None:
        super().__init__("teller")
        self.parts: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = 0

    async def on_event(
        self, event: RoomEvent, context: RoomContext
    ) -> AsyncIterator[ChannelOutput]:
        return self._tell()

    async def _tell(self) -> AsyncIterator[ChannelOutput]:
        try:
            while (sentence := await self.parts.get()) is not None:
                yield ChannelOutput(TextContent(sentence))
        finally:
            self.closed += 1


async def test_a_spoken_turn_goes_through_the_room_in_the_documented_order() -> None:
    async with (
        voice_harness(ScriptedSTT(["turn on the lights"]), settings=SETTINGS) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=700, silence_ms=400)
        await caller.transport.wait_for(TurnState, 3)  # thinking, speaking, listening again
        notices = caller.transport.notices
        timeline = await harness.kit.get_timeline(caller.room_id)

    assert kinds(notices) == [
        "SpeechStarted",
        "PartialTranscript",
        "PartialTranscript",
        "PartialTranscript",
        "PartialTranscript",  # the pass at the pause: all the speech so far
        "SpeechEnded",
        "FinalTranscript",
        "RoomEventNotice",  # the transcript's event, reported by the engine on commit
        "TurnState",
        "RoomEventNotice",  # the echo's answer
        "TurnState",
        "AnswerStarted",
        "TurnMetrics",
        "AnswerEnded",
        "TurnState",
    ]
    floors = [n.floor for n in notices if isinstance(n, TurnState)]
    assert floors == [Floor.THINKING, Floor.SPEAKING, Floor.LISTENING]
    partials = [n.text for n in notices if isinstance(n, PartialTranscript)]
    assert partials == ["turn", "turn on", "turn on the", "turn on the lights"]
    final = caller.transport.of_type(FinalTranscript)[0]
    transcript, answer = timeline
    turn_id = transcript.metadata["voice"]["turn_id"]
    assert final == FinalTranscript("turn on the lights", transcript.id, "en", turn_id)
    assert transcript.source.channel_id == f"voice:{caller.session_id}"
    assert transcript.metadata["voice"]["session_id"] == caller.session_id
    assert answer.response_id is not None
    assert answer.metadata["responds_to"] == transcript.id
    # one turn id links the transcript, both room events, the answer and the metrics
    events = caller.transport.of_type(RoomEventNotice)
    assert [(e.event.id, e.turn_id) for e in events] == [
        (transcript.id, turn_id),
        (answer.id, turn_id),
    ]
    ids = (answer.response_id, turn_id)
    started = caller.transport.of_type(AnswerStarted)[0]
    assert started == AnswerStarted("turn on the lights", answer.id, *ids)
    assert caller.transport.of_type(AnswerEnded) == [AnswerEnded(answer.id, False, *ids)]
    assert caller.transport.of_type(TurnMetrics)[0].timings.turn_id == turn_id
    stages = caller.transport.of_type(TurnMetrics)[0].timings.stages()
    assert set(stages) == {"endpoint", "stt", "room", "tts", "total"}
    assert caller.transport.played  # four words of tone


async def test_the_speech_start_and_end_times_are_on_the_audio_clock() -> None:
    # No echo canceller: its filters let the synthetic vowel ring on for a frame or two.
    settings = VoiceSettings(echo_cancellation=False)
    async with (
        voice_harness(ScriptedSTT(["hello"]), settings=settings) as harness,
        harness.call() as caller,
    ):
        await caller.send(silence(500))
        await caller.say(speech_ms=800, silence_ms=400)
        ended = await caller.transport.wait_for(SpeechEnded)
        started = caller.transport.of_type(SpeechStarted)[0]
    assert started.at == pytest.approx(0.5, abs=0.03)
    assert ended.at == pytest.approx(1.3, abs=0.03)
    assert ended.duration == pytest.approx(0.8, abs=0.05)


async def test_speech_from_the_calls_first_sample_is_heard_after_the_usual_pre_roll() -> None:
    """A caller who speaks from the first sample of the call's audio has no pre-roll: the
    recogniser is given preroll_ms of silence before it all the same, as for any later
    utterance (Whisper's short window misheard speech that started its audio)."""
    stt = ScriptedSTT(["first", "second"])
    fixed = VoiceSettings(end_of_turn=EndOfTurn.FIXED)
    async with voice_harness(stt, settings=fixed) as harness, harness.call() as caller:
        await caller.say(speech_ms=600, silence_ms=600)  # from the first sample
        await caller.say(speech_ms=600, silence_ms=600)  # after 600 ms of silence
        await caller.transport.wait_until(lambda: len(stt.audio_seconds) == 2)
    first, later = stt.audio_seconds
    assert first == pytest.approx(later, abs=0.001)  # without the lead-in: preroll_ms short


async def test_a_pause_shorter_than_the_end_of_speech_silence_keeps_one_utterance() -> None:
    stt = ScriptedSTT(["one long sentence", "never heard"])
    fixed = VoiceSettings(end_of_turn=EndOfTurn.FIXED)
    async with voice_harness(stt, settings=fixed) as harness, harness.call() as caller:
        await caller.say(speech_ms=400, silence_ms=200)
        await caller.say(speech_ms=400, silence_ms=400)
        await caller.transport.wait_for(AnswerEnded)
    assert stt.heard == ["one long sentence"]
    heard_s = stt.audio_seconds[0] - fixed.preroll_ms / 1000  # speech from the first sample
    assert 1.0 <= heard_s < 1.3  # both stretches of speech and the pause


async def test_speaking_over_an_answer_stops_it_and_the_caller_is_answered() -> None:
    stt = ScriptedSTT(["tell me a long story please", "stop"])
    heard: list[tuple[Any, Any]] = []
    async with voice_harness(stt, settings=SETTINGS) as harness:

        @harness.kit.hook(HookTrigger.ON_BARGE_IN, name="record")
        async def record(payload: Any, session: Any) -> None:
            heard.append((payload, session))

        async with harness.call(hold_playout=True) as caller:
            transport = caller.transport
            await caller.say(speech_ms=600, silence_ms=400)
            await transport.wait_for(AnswerStarted)
            await caller.say(speech_ms=300)
            await transport.wait_for(BargeIn)
            cut = [await transport.wait_for(AnswerEnded)]
            flushes = transport.flushes
            await caller.send(silence(400))
            second = await transport.wait_for(AnswerStarted, count=2)
            transport.finish_playout()
            await transport.wait_for(AnswerEnded, count=2)

    assert [a.interrupted for a in cut] == [True]
    assert flushes >= 1
    assert second.text == "stop"
    assert [session.id for _, session in heard] == [caller.session_id]
    barge_in_at = transport.notices.index(transport.of_type(BargeIn)[0])
    second_start = transport.notices.index(transport.of_type(SpeechStarted)[1])
    cut_at = transport.notices.index(cut[0])
    assert second_start < barge_in_at < cut_at  # speech_start, barge_in, tts_end


async def test_speech_shorter_than_barge_in_ms_does_not_interrupt_but_is_a_turn() -> None:
    settings = VoiceSettings(interruption_speaking=InterruptionStrategy.CONFIRMED, barge_in_ms=500)
    async with (
        voice_harness(ScriptedSTT(["tell me a story", "okay"]), settings=settings) as h,
        h.call(hold_playout=True) as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(AnswerStarted)
        await caller.say(speech_ms=300, silence_ms=400)
        await caller.transport.wait_for(FinalTranscript, count=2)
        notices = list(caller.transport.notices)
        caller.transport.finish_playout()
    assert not [n for n in notices if isinstance(n, BargeIn | AnswerEnded)]


async def test_the_client_interrupt_stops_the_answer_without_a_barge_in() -> None:
    async with (
        voice_harness(ScriptedSTT(["tell me a story"])) as harness,
        harness.call(hold_playout=True) as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(AnswerStarted)
        await caller.transport.interrupt()
        ended = caller.transport.of_type(AnswerEnded)
        barge_ins = caller.transport.of_type(BargeIn)
    assert [e.interrupted for e in ended] == [True]
    assert barge_ins == []  # barge_in means the caller spoke over the answer


async def test_an_interrupted_streamed_answer_stops_streaming_in_the_room() -> None:
    teller = Teller()
    async with (
        voice_harness(ScriptedSTT(["tell me a story"]), responder=teller) as harness,
        harness.call(hold_playout=True) as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        teller.parts.put_nowait("Once upon a time there was a keeper.")
        await caller.transport.wait_for(AnswerStarted)
        await caller.transport.interrupt()
        teller.parts.put_nowait("He lived alone on a rock.")
        await harness.kit.wait_answers(caller.room_id)
        timeline = await harness.kit.get_timeline(caller.room_id)
        started = caller.transport.of_type(AnswerStarted)
    assert teller.closed == 1
    assert [e.content.body for e in timeline] == [  # type: ignore[union-attr]
        "tell me a story",
        "Once upon a time there was a keeper.",
    ]
    assert [s.text for s in started] == ["Once upon a time there was a keeper."]


async def test_a_part_committed_while_its_answer_is_cut_is_not_spoken() -> None:
    teller, tts = Teller(), ToneTTS()
    committing, release = asyncio.Event(), asyncio.Event()
    async with voice_harness(ScriptedSTT(["tell me"]), tts, responder=teller) as harness:

        @harness.kit.hook(HookTrigger.BEFORE_BROADCAST, name="slow-second-part")
        async def slow(event: RoomEvent, context: RoomContext) -> None:
            if "Two" in str(event.content):
                committing.set()
                await release.wait()

        async with harness.call(hold_playout=True) as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            teller.parts.put_nowait("One more thing to say.")
            await caller.transport.wait_for(AnswerStarted)
            teller.parts.put_nowait("Two more things to say.")
            await committing.wait()
            interrupting = asyncio.create_task(caller.transport.interrupt())
            await caller.transport.wait_for(AnswerEnded)
            release.set()
            await interrupting
            await harness.kit.wait_answers(caller.room_id)
    parts = [e.content.body for e in answers(caller)]  # type: ignore[union-attr]
    assert parts == ["One more thing to say.", "Two more things to say."]
    assert [a.text for a in caller.transport.of_type(AnswerStarted)] == ["One more thing to say."]
    assert tts.spoken == ["One more thing to say."]
    assert teller.closed == 1


async def test_the_parts_of_a_streamed_answer_are_spoken_in_order_after_the_final() -> None:
    teller = Teller()
    async with (
        voice_harness(ScriptedSTT(["tell me a story"]), responder=teller) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(FinalTranscript)
        for sentence in ("First part here.", "Second part here.", None):
            teller.parts.put_nowait(sentence)
        await caller.transport.wait_for(AnswerEnded, count=2)
        notices = caller.transport.notices
    parts = answers(caller)
    assert [e.content.body for e in parts] == ["First part here.", "Second part here."]  # type: ignore[union-attr]
    assert len({e.response_id for e in parts}) == 1
    first_answer = next(
        i for i, n in enumerate(notices) if isinstance(n, RoomEventNotice) and n.event.response_id
    )
    assert notices.index(caller.transport.of_type(FinalTranscript)[0]) < first_answer
    assert [s.text for s in caller.transport.of_type(AnswerStarted)] == [
        "First part here.",
        "Second part here.",
    ]


def refusing(how: str, word: str) -> Any:
    """A hook that blocks (or fails on) payloads with ``word`` and lets the others pass."""

    async def refuse(payload: Any, session: Any) -> HookResult:
        if word not in str(payload):
            return HookResult.allow()
        if how == "raise":
            raise RuntimeError("hook broke")
        return HookResult.block("not allowed")

    return refuse


@pytest.mark.parametrize("how", ["block", "raise"])
async def test_a_refusing_transcription_hook_keeps_the_words_out_of_the_room(how: str) -> None:
    async with voice_harness(ScriptedSTT(["my secret", "all fine"])) as harness:
        harness.kit.hook(HookTrigger.ON_TRANSCRIPTION, name="refuse")(refusing(how, "secret"))
        async with harness.call() as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            await caller.say(speech_ms=600, silence_ms=400)
            await caller.transport.wait_for(AnswerEnded)
            timeline = await harness.kit.get_timeline(caller.room_id)
    finals = caller.transport.of_type(FinalTranscript)
    assert finals[0].text == "my secret"
    assert finals[0].event_id is None
    assert [e.content.body for e in timeline] == ["all fine", "all fine"]  # type: ignore[union-attr]
    assert [a.text for a in caller.transport.of_type(AnswerStarted)] == ["all fine"]


async def test_a_transcription_hook_may_rewrite_the_words() -> None:
    async with voice_harness(ScriptedSTT(["hello"])) as harness:

        @harness.kit.hook(HookTrigger.ON_TRANSCRIPTION, name="tag")
        async def tag(transcript: Transcript, session: VoiceSession) -> HookResult:
            return HookResult.modify(Transcript("heard hello", "en", 0.6, 0.0))

        async with harness.call() as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            started = await caller.transport.wait_for(AnswerStarted)
    assert caller.transport.of_type(FinalTranscript)[0].text == "heard hello"
    assert started.text == "heard hello"


async def test_a_transcript_blocked_in_the_room_is_still_told_once() -> None:
    async with voice_harness(ScriptedSTT(["hello"])) as harness:

        @harness.kit.hook(HookTrigger.BEFORE_BROADCAST, name="moderate")
        async def moderate(event: RoomEvent, context: RoomContext) -> HookResult:
            return HookResult.block("moderated")

        async with harness.call() as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            await caller.transport.wait_for(FinalTranscript)
    # the final transcript is told once the transcript's processing is over, so nothing follows
    [final] = caller.transport.of_type(FinalTranscript)
    assert (final.text, final.event_id, final.language) == ("hello", None, "en")
    assert final.turn_id is not None
    assert not caller.transport.of_type(RoomEventNotice)


@pytest.mark.parametrize("how", ["block", "raise"])
async def test_a_refusing_before_tts_hook_keeps_the_answer_silent(how: str) -> None:
    tts = ToneTTS()
    async with voice_harness(ScriptedSTT(["my secret", "all fine"]), tts) as harness:
        harness.kit.hook(HookTrigger.BEFORE_TTS, name="refuse")(refusing(how, "secret"))
        async with harness.call() as caller:
            await caller.say(speech_ms=600, silence_ms=400)
            await caller.say(speech_ms=600, silence_ms=400)
            await caller.transport.wait_for(AnswerEnded)
    assert [e.content.body for e in answers(caller)] == ["my secret", "all fine"]  # type: ignore[union-attr]
    assert [a.text for a in caller.transport.of_type(AnswerStarted)] == ["all fine"]
    assert tts.spoken == ["all fine"]


async def test_voice_hooks_see_the_session_and_after_tts_sees_what_was_spoken() -> None:
    seen: dict[str, list[Any]] = {}
    spoken = asyncio.Event()
    async with voice_harness(ScriptedSTT(["turn on the lights"]), settings=SETTINGS) as harness:
        for trigger in (
            HookTrigger.ON_SPEECH_START,
            HookTrigger.ON_SPEECH_END,
            HookTrigger.ON_PARTIAL_TRANSCRIPTION,
        ):
            harness.kit.hook(trigger, name=f"record-{trigger}")(recorder(seen, str(trigger)))

        @harness.kit.hook(HookTrigger.AFTER_TTS, name="after-tts")
        async def after_tts(text: str, session: VoiceSession) -> None:
            seen["after_tts"] = [(text, session)]
            spoken.set()

        async with harness.call() as caller:
            await caller.say(speech_ms=700, silence_ms=400)
            await asyncio.wait_for(spoken.wait(), WAIT_LIMIT_S)
    assert [type(p).__name__ for p, _ in seen["on_speech_start"]] == ["SpeechStarted"]
    assert [type(p).__name__ for p, _ in seen["on_speech_end"]] == ["SpeechEnded"]
    assert [p.text for p, _ in seen["on_partial_transcription"]] == [
        "turn",
        "turn on",
        "turn on the",
        "turn on the lights",  # the pass at the pause
    ]
    assert [p for p, _ in seen["after_tts"]] == ["turn on the lights"]
    sessions = {s.id for values in seen.values() for _, s in values}
    assert sessions == {caller.session_id}


def recorder(seen: dict[str, list[Any]], name: str) -> Any:
    async def record(payload: Any, session: Any) -> None:
        seen.setdefault(name, []).append((payload, session))

    return record


async def test_a_failing_recogniser_is_reported_and_the_session_goes_on() -> None:
    class Failing(ScriptedSTT):
        def stream(
            self,
            partial_interval: float = 0.7,
            language: str | None = None,
            *,
            prompt: str | None = None,
        ) -> STTStream:
            stream = super().stream(partial_interval, language)
            if self.heard[-1] == "crash":

                async def fail() -> Transcript:
                    raise RuntimeError("recogniser crashed")

                stream.finish = fail  # type: ignore[method-assign]
            return stream

    async with voice_harness(Failing(["crash", "hello"])) as harness, harness.call() as caller:
        await caller.say(speech_ms=600, silence_ms=400)
        error = await caller.transport.wait_for(SessionError)
        await caller.say(speech_ms=600, silence_ms=400)
        final = await caller.transport.wait_for(FinalTranscript)
    assert error.code == "internal_error"
    assert final.text == "hello"


async def test_the_next_utterance_waits_for_the_final_transcript_of_the_last() -> None:
    async with (
        voice_harness(ScriptedSTT(["first", "second"])) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=320)
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(FinalTranscript, count=2)
    order = [
        n.text if isinstance(n, FinalTranscript) else type(n).__name__
        for n in caller.transport.notices
        if isinstance(n, FinalTranscript | SpeechStarted)
    ]
    assert order == ["SpeechStarted", "first", "SpeechStarted", "second"]


@pytest.mark.parametrize("private", [False, True], ids=["visible-to-all", "answer-to-a-only"])
async def test_a_second_caller_in_the_room_hears_what_visibility_allows(private: bool) -> None:
    stt = ScriptedSTT(["turn on the lights", "thank you"])
    async with voice_harness(stt) as harness, harness.call(participant_id="alice") as alice:
        alice_channel = f"voice:{alice.session_id}"
        if private:

            @harness.kit.hook(HookTrigger.BEFORE_BROADCAST, name="lights-to-speaker")
            async def to_speaker(event: RoomEvent, context: RoomContext) -> HookResult:
                if "lights" not in str(event.content) or event.response_id:
                    return HookResult.allow()
                return HookResult.modify(event.copy(response_visibility=alice_channel))

        async with harness.call(alice.room_id, participant_id="bob") as bob:
            for count in (1, 2):  # each after the answer before it: no contest over it
                await alice.say(speech_ms=600, silence_ms=400)
                await alice.transport.wait_for(AnswerEnded, count=count)
            await bob.transport.wait_for(AnswerEnded, count=1 if private else 2)
    # alice's second answer is open to all: bob hears it, and before it nothing he may not
    bob_events = [n.event.source.channel_id for n in bob.transport.of_type(RoomEventNotice)]
    assert not bob.transport.of_type(FinalTranscript)  # bob did not speak
    assert [a.text for a in alice.transport.of_type(AnswerStarted)] == [
        "turn on the lights",
        "thank you",
    ]
    if private:
        assert bob_events == [alice_channel, alice_channel, "echo"]
        assert [a.text for a in bob.transport.of_type(AnswerStarted)] == ["thank you"]
    else:
        assert bob_events == [alice_channel, "echo", alice_channel, "echo"]
        assert [a.text for a in bob.transport.of_type(AnswerStarted)][:1] == ["turn on the lights"]


async def test_joining_a_room_that_does_not_exist_closes_the_session() -> None:
    async with voice_harness(ScriptedSTT([])) as harness:
        with pytest.raises(ConnectionRefusedError, match="room_not_found"):
            async with harness.call("nowhere"):
                pass
        assert await harness.kit.store.list_rooms() == []

"""Turn-taking on fakes (voicegate.testing): the semantic end of turn with a scripted
end-of-turn model, the interruption strategies, acknowledgements and the echo guard,
through the real gateway, listener, turns and speaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from voicegate.testing import Caller, ScriptedSTT, speech, voice_harness
from voicegate.testing.fakes import ScriptedEndOfTurn
from voicegate.voice.notices import (
    AnswerEnded,
    AnswerStarted,
    BargeIn,
    FinalTranscript,
    PartialTranscript,
    SpeechEnded,
    SpeechIgnored,
)
from voicegate.voice.session import EndOfTurn, InterruptionStrategy, VoiceSettings
from voicegate.voice.turn_end import WORDS_WAIT_S, SemanticTurnEnd

SEMANTIC = VoiceSettings(end_of_turn=EndOfTurn.SEMANTIC, max_silence_ms=1500)


async def test_a_pause_the_model_finds_complete_ends_the_turn_before_the_fixed_timer() -> None:
    model = ScriptedEndOfTurn(otherwise=0.9)
    stt = ScriptedSTT(["turn on the lights"])
    async with (
        voice_harness(stt, settings=SEMANTIC, turn_model=model) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=200)  # under end_of_speech_ms (300)
        final = await caller.transport.wait_for(FinalTranscript)
    assert final.text == "turn on the lights"
    assert model.asked >= 1


async def test_a_pause_the_model_finds_incomplete_keeps_listening_until_max_silence() -> None:
    model = ScriptedEndOfTurn(otherwise=0.1)
    stt = ScriptedSTT(["one long sentence", "never heard"])
    async with (
        voice_harness(stt, settings=SEMANTIC, turn_model=model) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=400, silence_ms=1000)  # a hesitation
        await caller.say(speech_ms=400, silence_ms=1000)
        assert caller.transport.of_type(SpeechEnded) == []
        await caller.say(speech_ms=0, silence_ms=600)  # 1.6 s of silence in all
        ended = await caller.transport.wait_for(SpeechEnded)
        final = await caller.transport.wait_for(FinalTranscript)
    assert stt.heard == ["one long sentence"]
    assert final.text == "one long sentence"
    assert 1.7 <= ended.duration <= 2.0  # both stretches of speech and the pause


async def test_words_that_stop_mid_phrase_keep_the_turn_open_whatever_the_model_says() -> None:
    stt = ScriptedSTT(["a table for | four people"])
    async with (
        voice_harness(stt, settings=SEMANTIC, turn_model=ScriptedEndOfTurn()) as harness,
        harness.call() as caller,
    ):
        await caller.say(speech_ms=500, silence_ms=800)
        assert caller.transport.of_type(SpeechEnded) == []
        await caller.say(speech_ms=500, silence_ms=400)
        final = await caller.transport.wait_for(FinalTranscript)
    assert final.text == "a table for four people"
    assert len(caller.transport.of_type(SpeechEnded)) == 1


@asynccontextmanager
async def _over_an_answer(
    stt: ScriptedSTT, strategy: InterruptionStrategy, speech_ms: int
) -> AsyncIterator[Caller]:
    """A call with ``strategy`` whose caller asks, waits for the answer to start playing (the
    client holds its playout), then speaks ``speech_ms`` over it."""
    settings = VoiceSettings(interruption_speaking=strategy, interruption_thinking=strategy)
    async with (
        voice_harness(stt, settings=settings) as harness,
        harness.call(hold_playout=True) as caller,
    ):
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(AnswerStarted)
        await caller.say(speech_ms=speech_ms, silence_ms=400)
        yield caller


async def test_an_acknowledgement_is_neither_an_interruption_nor_a_turn_with_semantic() -> None:
    stt = ScriptedSTT(["tell me a long story please", "uh-huh"])
    async with _over_an_answer(stt, InterruptionStrategy.SEMANTIC, speech_ms=400) as caller:
        ignored = await caller.transport.wait_for(SpeechIgnored)
        notices = list(caller.transport.notices)
        caller.transport.finish_playout()
        await caller.transport.wait_for(AnswerEnded)
    assert ignored == SpeechIgnored("acknowledgement", "uh-huh")
    assert not [n for n in notices if isinstance(n, BargeIn)]
    assert [n.text for n in caller.transport.of_type(FinalTranscript)] == [
        "tell me a long story please"
    ]


async def test_the_first_word_of_an_acknowledgement_does_not_interrupt_with_semantic() -> None:
    # the recogniser first hears "thank" alone, which may still become "thank you"
    stt = ScriptedSTT(["tell me a long story please", "thank | you"])
    async with _over_an_answer(stt, InterruptionStrategy.SEMANTIC, speech_ms=600) as caller:
        ignored = await caller.transport.wait_for(SpeechIgnored)
        notices = list(caller.transport.notices)
        caller.transport.finish_playout()
    assert "thank" in [n.text for n in notices if isinstance(n, PartialTranscript)]
    assert ignored == SpeechIgnored("acknowledgement", "thank you")
    assert not [n for n in notices if isinstance(n, BargeIn)]


async def test_real_words_interrupt_with_semantic() -> None:
    stt = ScriptedSTT(["tell me a long story please", "wait stop that is not it"])
    async with _over_an_answer(stt, InterruptionStrategy.SEMANTIC, speech_ms=600) as caller:
        barge_in = await caller.transport.wait_for(BargeIn)
        caller.transport.finish_playout()
    assert (barge_in.during, barge_in.strategy) == ("speaking", "semantic")
    assert barge_in.text  # it decided on words, not on the length of the speech


async def test_immediate_interrupts_on_any_speech_and_disabled_never() -> None:
    for strategy, interrupted in (
        (InterruptionStrategy.IMMEDIATE, True),
        (InterruptionStrategy.DISABLED, False),
    ):
        stt = ScriptedSTT(["tell me a long story please", "uh-huh"])
        async with _over_an_answer(stt, strategy, speech_ms=400) as caller:
            await caller.transport.wait_for(FinalTranscript, count=2)  # a turn either way
            barge_ins = caller.transport.of_type(BargeIn)
            caller.transport.finish_playout()
        assert [b.strategy for b in barge_ins] == (["immediate"] if interrupted else [])


async def test_the_answers_own_words_coming_back_are_its_echo() -> None:
    # the echo responder says the caller's words back: hearing them again is the echo
    stt = ScriptedSTT(["tell me a long story please", "a long story"])
    async with _over_an_answer(stt, InterruptionStrategy.SEMANTIC, speech_ms=600) as caller:
        ignored = await caller.transport.wait_for(SpeechIgnored)
        caller.transport.finish_playout()
    assert ignored == SpeechIgnored("echo", "a long story")
    assert not caller.transport.of_type(BargeIn)
    assert len(caller.transport.of_type(FinalTranscript)) == 1


@pytest.mark.parametrize(
    ("heard", "ignored"), [("", None), ("a long story", SpeechIgnored("echo", "a long story"))]
)
async def test_long_speech_without_words_of_its_own_does_not_interrupt_with_semantic(
    heard: str, ignored: SpeechIgnored | None
) -> None:
    # what an echo canceller lets through while it finds a new echo path: 1.5 s of the
    # answer's sound, in which the recogniser hears no words, or only the answer's
    stt = ScriptedSTT(["tell me a long story please", heard])
    async with _over_an_answer(stt, InterruptionStrategy.SEMANTIC, speech_ms=1500) as caller:
        await caller.transport.wait_until(lambda: len(stt.audio_seconds) == 2)  # its final
        notices = list(caller.transport.notices)
        caller.transport.finish_playout()
        await caller.transport.wait_for(AnswerEnded)
    assert not [n for n in notices if isinstance(n, BargeIn)]
    assert [n for n in notices if isinstance(n, SpeechIgnored)] == ([ignored] if ignored else [])
    assert len(caller.transport.of_type(FinalTranscript)) == 1


async def test_long_speech_whose_words_may_still_be_an_acknowledgement_interrupts() -> None:
    # "thank" may grow into "thank you": after 1 s of speech it interrupts on its length
    stt = ScriptedSTT(["tell me a long story please", "thank"])
    async with _over_an_answer(stt, InterruptionStrategy.SEMANTIC, speech_ms=1500) as caller:
        barge_in = await caller.transport.wait_for(BargeIn)
        caller.transport.finish_playout()
    assert (barge_in.strategy, barge_in.text) == ("semantic", "")
    assert (barge_in.speech_ms or 0) >= 1000


async def _judged(
    settings: VoiceSettings, completion: float, heard: str
) -> tuple[SemanticTurnEnd, asyncio.Event]:
    """A semantic end of turn 100 ms into the pause after 1.5 s of speech transcribed as
    ``heard``, once the model has answered ``completion``; and the event its end sets."""
    ended = asyncio.Event()
    turn_end = SemanticTurnEnd(ScriptedEndOfTurn(otherwise=completion), settings, ended.set)
    turn_end.speech()
    turn_end.hear(speech(1500))
    turn_end.transcript(heard)
    turn_end.quiet(0.1)
    await asyncio.sleep(0.01)  # the model answered
    return turn_end, ended


async def test_a_complete_pause_ends_the_turn_when_the_recogniser_gives_no_words() -> None:
    """A recogniser far behind (or stuck) gives no transcript of the pause: the model's
    answer decides alone once WORDS_WAIT_S has passed, instead of max_silence_ms or never."""
    ended = asyncio.Event()
    turn_end = SemanticTurnEnd(ScriptedEndOfTurn(otherwise=0.9), SEMANTIC, ended.set)
    turn_end.speech()
    turn_end.hear(speech(500))
    turn_end.quiet(0.2)
    await asyncio.wait_for(ended.wait(), 30)
    turn_end.close()


async def test_an_incomplete_pause_without_words_does_not_end_the_turn() -> None:
    model = ScriptedEndOfTurn(otherwise=0.1)
    ended = asyncio.Event()
    turn_end = SemanticTurnEnd(model, SEMANTIC, ended.set)
    turn_end.speech()
    turn_end.hear(speech(500))
    turn_end.quiet(0.2)
    await asyncio.sleep(WORDS_WAIT_S * 2)  # its answer came, and the words did not
    assert model.asked == 1
    assert not ended.is_set()
    turn_end.close()


async def test_speech_without_words_ends_at_end_of_speech_ms_whatever_the_model_says() -> None:
    """Noise the VAD passed: the recogniser finds no words in it, so the pause ends it as the
    fixed timer would (its own utterance, no turn), not max_silence_ms later."""
    ended = asyncio.Event()
    turn_end = SemanticTurnEnd(ScriptedEndOfTurn(otherwise=0.1), SEMANTIC, ended.set)
    turn_end.speech()
    turn_end.hear(speech(500))
    turn_end.transcript("")
    turn_end.quiet(0.2)  # under end_of_speech_ms (300)
    assert not ended.is_set()
    turn_end.quiet(0.3)
    assert ended.is_set()
    turn_end.close()


async def test_a_pause_the_model_is_unsure_of_ends_the_turn_after_end_of_speech_ms() -> None:
    """Completion between turn_threshold and turn_sure_threshold (a reader's phrase break,
    "At the sound of the tone," at 0.70) ends the turn only where the fixed timer would,
    unless the speech began over an answer."""
    model = ScriptedEndOfTurn([0.7, 0.95])
    ended = asyncio.Event()
    turn_end = SemanticTurnEnd(model, SEMANTIC, ended.set)
    turn_end.speech()
    turn_end.hear(speech(1000))
    turn_end.transcript("at the sound of the tone.")
    turn_end.quiet(0.1)
    await asyncio.sleep(0.01)  # the model answered: complete, but not sure
    turn_end.quiet(0.24)
    assert model.asked == 1
    assert not ended.is_set()
    turn_end.speech()  # "the time will be exactly"
    turn_end.transcript("At the sound of the tone, the time will be exactly.")
    turn_end.quiet(0.1)
    await asyncio.sleep(0.01)  # sure: the turn ends without waiting for 300 ms,
    turn_end.quiet(SEMANTIC.min_silence_ms / 1000)  # once the pause outlasts a closure
    assert ended.is_set()
    turn_end.close()
    turn_end, unsure = await _judged(SEMANTIC, 0.7, "Call forward unconditional.")
    turn_end.quiet(0.28)
    assert not unsure.is_set()
    turn_end.quiet(0.3)  # end_of_speech_ms
    assert unsure.is_set()
    turn_end.close()
    over_answer = asyncio.Event()  # "Stop, I asked for something else" over an answer
    turn_end = SemanticTurnEnd(ScriptedEndOfTurn(otherwise=0.7), SEMANTIC, over_answer.set)
    turn_end.begin(over_answer=True)
    turn_end.hear(speech(400))
    turn_end.transcript("Stop.")
    turn_end.quiet(0.1)
    await asyncio.sleep(0.01)  # unsure, but the turn ends at once: it stops the answer
    turn_end.quiet(SEMANTIC.min_silence_ms / 1000)
    assert over_answer.is_set()
    turn_end.close()


async def test_a_pause_the_vad_still_calls_speech_does_not_end_the_turn_until_it_agrees() -> None:
    """A stop consonant's closure inside the last word ("dial|ed") is quiet, and the VAD
    calls it speech: the model and the words are asked, but the turn ends only at a pause
    the VAD calls silence too."""
    model = ScriptedEndOfTurn(otherwise=0.95)
    ended = asyncio.Event()
    turn_end = SemanticTurnEnd(model, SEMANTIC, ended.set)
    turn_end.speech()
    turn_end.hear(speech(1500))
    turn_end.transcript("Your call cannot be completed as dial.")
    turn_end.quiet(0.1, voiced=True)
    turn_end.quiet(0.14, voiced=True)
    await asyncio.sleep(0.01)  # the model answered: complete
    assert model.asked == 1
    assert not ended.is_set()
    turn_end.speech()  # "-ed": the word goes on
    turn_end.transcript("Your call cannot be completed as dialed.")
    turn_end.quiet(0.1, voiced=True)
    await asyncio.sleep(0.01)
    assert model.asked == 2
    assert not ended.is_set()
    turn_end.quiet(0.16)  # the VAD's tail is over: the answers given in it end the turn
    assert ended.is_set()
    turn_end.close()


async def test_a_pause_shorter_than_min_silence_ms_does_not_end_the_turn_however_sure() -> None:
    """Piper's "The quick | brown fox": the closure of "k" and "b" is 100-140 ms of near
    silence, which the VAD may call non-speech just before "brown"; the model put "The
    quick" at 0.95 and the words were "the quote.". The turn goes on; a pause as long as
    ``min_silence_ms`` ends it."""
    turn_end, ended = await _judged(SEMANTIC, 0.95, "the quote.")
    turn_end.quiet(0.14)  # the VAD calls it silence
    assert not ended.is_set()
    turn_end.speech()  # "brown fox jumps over the lazy dog."
    turn_end.transcript("The quick brown fox jumps over the lazy dog.")
    turn_end.quiet(0.1)
    await asyncio.sleep(0.01)
    turn_end.quiet(SEMANTIC.min_silence_ms / 1000 - 0.02)
    assert not ended.is_set()
    turn_end.quiet(SEMANTIC.min_silence_ms / 1000)
    assert ended.is_set()
    turn_end.close()


@pytest.mark.parametrize(
    ("heard", "ends"),
    [
        ("Book a table for four people at seven.", True),
        ("Is it open on Sundays?", True),
        ("Book a table for.", False),  # stops mid-phrase, whatever its mark
        ("I would like to...", False),
        ("book a table for four people", False),  # no sentence's mark
    ],
)
async def test_words_that_end_a_sentence_end_a_turn_the_model_finds_unfinished_after_words_end_ms(
    heard: str, ends: bool
) -> None:
    """Smart Turn put espeak-ng's "Book a table for four people at seven." at 0.02-0.06: the
    words end the turn after ``words_end_ms``, not ``max_silence_ms``."""
    after_s = SEMANTIC.words_end_ms / 1000
    turn_end, ended = await _judged(SEMANTIC, 0.05, heard)
    turn_end.quiet(after_s - 0.02)
    assert not ended.is_set()
    turn_end.quiet(after_s)
    assert ended.is_set() is ends
    turn_end.close()


async def test_words_end_ms_0_leaves_a_turn_the_model_finds_unfinished_to_max_silence() -> None:
    settings = VoiceSettings(end_of_turn=EndOfTurn.SEMANTIC, words_end_ms=0)
    turn_end, ended = await _judged(settings, 0.05, "Book a table for four people at seven.")
    turn_end.quiet(settings.max_silence_ms / 1000 - 0.02)  # the listener ends it at max
    assert not ended.is_set()
    turn_end.close()

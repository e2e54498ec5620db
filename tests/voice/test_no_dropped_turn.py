"""A recogniser far behind: a caller's waiting utterances join into one turn (never dropped),
the joined audio is bounded by holding the caller's audio back, and a caller who leaves right
after speaking still gets the turn into the room."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from voicegate.testing import BurstSTT, Caller, ScriptedSTT, VoiceHarness, speech, voice_harness
from voicegate.voice import waiting_turns
from voicegate.voice.notices import FinalTranscript, SessionError
from voicegate.voice.session import EndOfTurn, VoiceSettings

LENGTHS_MS = [300 + 100 * n for n in range(16)]  # w3 ... w18: every utterance its own word


@pytest.fixture
async def behind() -> AsyncIterator[tuple[VoiceHarness, BurstSTT]]:
    stt = BurstSTT()
    # the fixed end of turn: the semantic one waits for the words of a pause, which a stuck
    # recogniser does not give, so every 500 ms pause here would be one utterance
    fixed = VoiceSettings(end_of_turn=EndOfTurn.FIXED)
    try:
        async with voice_harness(stt, settings=fixed) as harness:  # warms the recogniser up
            stt.gate.clear()  # the recogniser is stuck until the test lets it go
            yield harness, stt
    finally:
        stt.gate.set()
        stt.close()


def words(caller: Caller) -> list[str]:
    finals = caller.transport.of_type(FinalTranscript)
    return " ".join(f.text for f in finals).split()


async def test_waiting_utterances_join_into_one_turn_and_none_is_dropped(
    behind: tuple[VoiceHarness, BurstSTT],
) -> None:
    harness, stt = behind
    async with harness.call() as caller:
        for ms in LENGTHS_MS:
            await caller.say(speech_ms=ms, silence_ms=500)
        stt.gate.set()
        expected = [f"w{ms // 100}" for ms in LENGTHS_MS]
        await caller.transport.wait_until(lambda: len(words(caller)) >= len(expected))
        assert words(caller) == expected
        finals = caller.transport.of_type(FinalTranscript)
        # one turn in progress, MAX_WAITING_UTTERANCES waiting, the rest joined the latest
        assert len(finals) == 1 + waiting_turns.MAX_WAITING_UTTERANCES
        assert all(f.event_id is not None for f in finals)
        assert caller.transport.of_type(SessionError) == []
        timeline = await harness.kit.get_timeline(caller.room_id)
        stored = [e.content.body for e in timeline if e.source.channel_id.startswith("voice:")]  # type: ignore[union-attr]
        assert " ".join(stored).split() == expected


async def test_the_joined_audio_is_bounded_by_holding_the_caller_back(
    behind: tuple[VoiceHarness, BurstSTT],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cap_s = 2.0
    monkeypatch.setattr(waiting_turns, "MAX_JOINED_AUDIO_S", cap_s)
    caplog.set_level(logging.WARNING, logger=waiting_turns.__name__)
    harness, stt = behind
    async with harness.call() as caller:

        async def speak_all() -> None:
            for ms in LENGTHS_MS:
                await caller.say(speech_ms=ms, silence_ms=500)

        speaking = asyncio.create_task(speak_all())
        held = "holding the caller's audio back"
        await caller.transport.wait_until(lambda: held in caplog.text or speaking.done())
        assert held in caplog.text
        assert not speaking.done()  # the server reads no more of the caller's audio
        stt.gate.set()
        await speaking
        expected = [f"w{ms // 100}" for ms in LENGTHS_MS]
        await caller.transport.wait_until(lambda: len(words(caller)) >= len(expected))
        assert words(caller) == expected
        assert caller.transport.of_type(SessionError) == []
    # the turn holds at most the cap, plus the utterance that crossed it (with its gap and
    # pre-roll); without the hold it would have taken every later utterance
    preroll_s = VoiceSettings().preroll_ms / 1000
    one_more_s = waiting_turns.JOIN_GAP_S + preroll_s + max(LENGTHS_MS) / 1000
    assert max(stt.heard_seconds) <= cap_s + one_more_s


async def test_a_caller_who_leaves_right_after_speaking_still_gets_the_turn_stored() -> None:
    async with voice_harness(ScriptedSTT(["goodbye for now"])) as harness:
        async with harness.call() as caller:
            await caller.send(speech(900))  # no silence after it: the client leaves at once
            room_id = caller.room_id
        timeline = await harness.kit.get_timeline(room_id)
        assert [e.content.body for e in timeline][:1] == ["goodbye for now"]  # type: ignore[union-attr]

"""One-word answers through a whole WebSocket session: the committed final holds the word once.

Real recordings (Asterisk's prompts, a voice actor) and espeak-ng words, each spoken as its
own turn in one session, as a caller answering "yes", "no" or a number would.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.voice.conftest import Gateway, spoken_turn, voice_client
from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.bench.prompts import load_prompts
from voicegate.stt.wer import normalize

pytestmark = pytest.mark.models

WORDS = ("yes", "no", "okay", "fifty")


async def answers_in_one_session(gateway: Gateway, turns: list[AudioFrame]) -> list[str]:
    """The committed final transcript of each turn, spoken one after another."""
    token = gateway.auth.issue("caller")
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        for number, audio in enumerate(turns, 1):
            await client.say(spoken_turn(resample(audio, 16000), trailing_s=1.0))
            await client.wait_for("tts_end", number)
        finals = client.received.of_type("final_transcript")
        timeline = await gateway.kit.get_timeline(client.ready["room_id"])
    committed = {event.id: event.content.body for event in timeline}  # type: ignore[union-attr]
    assert len(finals) == len(turns)
    return [committed[final["event_id"]] for final in finals]


async def test_recorded_one_word_answers_are_committed_once(gateway: Gateway) -> None:
    prompts = {prompt.name: prompt for prompt in load_prompts()}
    names = ("vm-no", "digits/50", "vm-goodbye", "digits/17")
    committed = await answers_in_one_session(gateway, [prompts[n].audio() for n in names])
    assert [normalize(text) for text in committed] == [normalize(prompts[n].text) for n in names]


@pytest.fixture
def spoken_words(espeak: Callable[[str], AudioFrame]) -> list[AudioFrame]:
    return [espeak(word) for word in WORDS]


async def test_espeak_one_word_answers_are_committed_once(
    gateway: Gateway, spoken_words: list[AudioFrame]
) -> None:
    committed = await answers_in_one_session(gateway, spoken_words)
    assert [normalize(text) for text in committed] == [normalize(word) for word in WORDS]

"""Whisper with a prompt: the acknowledgement prompt spells a hummed "mm-hmm", and leaves
clear words what they are, in the short window and in the 30 s decode."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.bench.speech import SAMPLE_RATE
from voicegate.bench.voices import VOICES, speak
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.voice.interruption import ACKNOWLEDGEMENT_PROMPT, is_acknowledgement

WORDS = ("No.", "Wait, stop.", "Hold on.")
"""Short words that interrupt, which the prompt must not turn into acknowledgements."""


@pytest.fixture(scope="module", params=["short window", "30 s window"])
def whisper(request: pytest.FixtureRequest, stt: FasterWhisperSTT) -> Iterator[FasterWhisperSTT]:
    if request.param == "short window":
        yield stt
        return
    provider = FasterWhisperSTT(window_margin=None, partial_busy_limit=None)
    asyncio.run(provider.warm_up())
    yield provider
    provider.close()


def _said(text: str) -> list[AudioFrame]:
    return [AudioFrame(speak(voice, text), SAMPLE_RATE) for voice in VOICES]


@pytest.mark.models
async def test_a_hum_prompted_with_the_acknowledgement_is_one_in_every_voice(
    whisper: FasterWhisperSTT,
) -> None:
    hums = _said("Mm-hmm.")
    unprompted = [(await whisper.transcribe(hum)).text for hum in hums]
    prompted = [(await whisper.transcribe(hum, prompt=ACKNOWLEDGEMENT_PROMPT)).text for hum in hums]
    assert all(map(is_acknowledgement, prompted)), prompted
    # the control: unprompted, tiny.en writes espeak-ng's hums as words ("and anthem.")
    assert not all(map(is_acknowledgement, unprompted)), unprompted


@pytest.mark.models
@pytest.mark.parametrize("text", WORDS)
async def test_words_prompted_with_the_acknowledgement_stay_words(
    whisper: FasterWhisperSTT, text: str
) -> None:
    for audio in _said(text):
        heard = (await whisper.transcribe(audio, prompt=ACKNOWLEDGEMENT_PROMPT)).text
        assert heard.strip(), text
        assert not is_acknowledgement(heard), heard

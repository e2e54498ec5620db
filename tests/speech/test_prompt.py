"""Whisper with a prompt: the acknowledgement prompt spells a hummed "mm-hmm" (in the short
window, where speech over an answer is decoded), and leaves clear words what they are, in
the short window and in the 30 s decode."""

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


PIPER_HUMS = 10
"""Renderings of the hum in each Piper voice."""


@pytest.mark.models
async def test_a_hum_prompted_with_the_acknowledgement_is_one(stt: FasterWhisperSTT) -> None:
    """espeak-ng's hums (the same audio every run): words unprompted ("and anthem."), a hum
    prompted. Piper renders each anew: most of its three voices' hums are heard as one (in the
    eval, 29 of 30 acknowledgements held). In the short window, which decodes greedily; the
    30 s decode falls back to sampling where it is unsure (CI heard espeak-ng's British hum
    as "And then, Mm-hmm." there).

    Most is counted over PIPER_HUMS renderings a voice: offline 59 of 75 renderings were heard
    as a hum (piper 21 of 25, piper-fast 15, piper-slow 23), so "2 of 3" (one each) failed
    about one run in ten (CI134: 1 of 3), and "8 of 15" one in 150 (a CI run: 7 of 15); "16
    of 30" fails about one in 2,000."""
    whisper = stt
    heard: list[tuple[str, str]] = []
    for voice in VOICES:
        for _ in range(1 if voice.engine == "espeak" else PIPER_HUMS):
            hum = AudioFrame(speak(voice, "Mm-hmm."), SAMPLE_RATE)
            prompted = (await whisper.transcribe(hum, prompt=ACKNOWLEDGEMENT_PROMPT)).text
            if voice.engine == "espeak":
                unprompted = (await whisper.transcribe(hum)).text
                assert not is_acknowledgement(unprompted), (voice.label, unprompted)
                assert is_acknowledgement(prompted), (voice.label, prompted)
            else:
                heard.append((voice.label, prompted))
    assert sum(is_acknowledgement(text) for _, text in heard) > len(heard) / 2, heard


@pytest.mark.models
@pytest.mark.parametrize("text", WORDS)
async def test_words_prompted_with_the_acknowledgement_stay_words(
    whisper: FasterWhisperSTT, text: str
) -> None:
    for audio in _said(text):
        heard = (await whisper.transcribe(audio, prompt=ACKNOWLEDGEMENT_PROMPT)).text
        assert heard.strip(), text
        assert not is_acknowledgement(heard), heard

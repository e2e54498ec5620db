"""Languages and noise in whole sessions over a real WebSocket, on the real models: a caller
chooses their language in ``hello`` and the transcript carries it; noise is no turn."""

from __future__ import annotations

import numpy as np
import pytest
from websockets.asyncio.client import connect

from tests.voice.conftest import (
    Gateway,
    last_words,
    running_gateway,
    speech,
    spoken_turn,
    voice_client,
)
from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.bench.espeak import espeak
from voicegate.stt.wer import normalize, word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

SPANISH = "Buenos días quisiera reservar una mesa para dos personas esta noche."
"""One sentence without a pause: after espeak's 220 ms pause at a comma after "Buenos días",
the end-of-turn model put "Buenos días." at 0.98 complete, a turn of its own whenever the
recogniser's pass on it came back within the pause."""
ENGLISH = "Please turn on the kitchen lights."
MAX_ENGLISH_WER = 0.2
"""One word of the six, as elsewhere for this sentence: Whisper tiny.en hears about 1 in 40 of
Piper's renderings of "kitchen lights" as "kitchen whites" (40 offline; CI151)."""


def white_noise(seconds: float) -> AudioFrame:
    """Loud white noise (-10 dBFS), which WebRTC VAD takes for speech."""
    samples = np.random.default_rng(5).normal(0, 0.3, round(16000 * seconds))
    return AudioFrame.from_float32(samples, 16000)


async def test_a_caller_speaking_spanish_gets_a_spanish_transcript(
    stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    async with running_gateway(stt_base, tts) as gateway:
        token = gateway.auth.issue("carmen")
        url = f"{gateway.ws_url}?token={token}"
        async with voice_client(url, {"language": "es"}) as client:
            await client.say(spoken_turn(resample(espeak(SPANISH, "es"), 16000)))
            final = await client.wait_for("final_transcript")
            room_id = client.ready["room_id"]
        assert final["language"] == "es"
        assert word_error_rate([(SPANISH, final["text"])], "es") <= 0.5
        [event, *_] = await gateway.kit.get_timeline(room_id)
        assert (event.id, event.content.language) == (final["event_id"], "es")


async def test_a_language_the_recogniser_does_not_know_is_refused(gateway: Gateway) -> None:
    token = gateway.auth.issue("pierre")
    async with connect(f"{gateway.ws_url}?token={token}") as ws:
        await ws.send('{"type": "hello", "sample_rate": 16000, "language": "fr"}')
        last, code, reason = await last_words(ws)
    assert (code, reason) == (4400, "unsupported_language")
    assert last is not None
    assert (last["type"], last["code"], last["fatal"]) == ("error", "unsupported_language", True)
    assert await gateway.kit.store.list_rooms() == []


async def test_noise_is_no_transcript_and_no_turn(gateway: Gateway, tts: PiperTTS) -> None:
    token = gateway.auth.issue("alice")
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        await client.say(spoken_turn(white_noise(2.0)))
        await client.say(spoken_turn(await speech(tts, ENGLISH)))
        final = await client.wait_for("final_transcript")
        await client.wait_for("tts_end")
        room_id = client.ready["room_id"]
        received = client.received
    # Two utterances were heard (the noise passed the VAD), the noise gave no words at all:
    # the speech's transcript has its own words and no more.
    assert len(received.of_type("speech_end")) == 2
    assert len(received.of_type("final_transcript")) == 1
    assert len(normalize(final["text"]).split()) == len(normalize(ENGLISH).split()), final
    assert word_error_rate([(ENGLISH, final["text"])]) <= MAX_ENGLISH_WER, final
    assert all(m["text"].strip() for m in received.of_type("partial_transcript"))
    timeline = await gateway.kit.get_timeline(room_id)
    assert [e.content.body for e in timeline] == [final["text"], final["text"]]  # one turn

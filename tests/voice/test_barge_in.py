"""Barge-in over a real WebSocket: talking over a long answer stops it, as configured."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.voice.conftest import (
    Gateway,
    VoiceClient,
    running_gateway,
    speech,
    spoken_turn,
    voice_client,
)
from voicegate.bench.story_server import STORY, Storyteller
from voicegate.core.hooks import HookTrigger
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.session import InterruptionStrategy, VoiceSettings

pytestmark = pytest.mark.models

REQUEST = "Tell me a long story."
INTERRUPTION = "Please be quiet now."


@asynccontextmanager
async def _story_gateway(
    stt: FasterWhisperSTT, tts: PiperTTS, barge_in_ms: int
) -> AsyncIterator[tuple[Gateway, list[Any]]]:
    settings = VoiceSettings(
        interruption_speaking=InterruptionStrategy.CONFIRMED, barge_in_ms=barge_in_ms
    )
    async with running_gateway(stt, tts, settings=settings, responder=Storyteller()) as gw:
        barge_ins: list[Any] = []

        @gw.kit.hook(HookTrigger.ON_BARGE_IN, name="record-barge-in")
        async def record(payload: Any, session: Any) -> None:
            barge_ins.append((payload, session))

        yield gw, barge_ins


async def _story_playing(client: VoiceClient, tts: PiperTTS) -> None:
    """Ask for the story and return once its audio is arriving."""
    await client.say(spoken_turn(await speech(tts, REQUEST), trailing_s=0.6))
    started = await client.wait_for("tts_start")
    assert started["text"] == STORY
    await client.wait_until(lambda received: bool(received.audio))


async def test_speaking_over_the_answer_stops_it_and_is_answered(
    stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    """How fast the answer stops is a benchmark figure (the turn-taking evaluation); here: it
    stops once, after the caller started speaking, long before its end."""
    async with _story_gateway(stt, tts, barge_in_ms=120) as (gw, barge_ins):
        token = gw.auth.issue("alice")
        async with voice_client(f"{gw.ws_url}?token={token}") as client:
            await _story_playing(client, tts)
            await client.say(spoken_turn(await speech(tts, INTERRUPTION), trailing_s=0.8))
            cut = await client.wait_for("tts_end")
            answer_end = await client.wait_for("tts_end", count=2)
            received = client.received

        assert cut["interrupted"] is True
        assert received.of_type("barge_in")
        assert len(barge_ins) == 1
        assert barge_ins[0][1].id == client.ready["session_id"]

        kinds = [m["type"] for _, m in received.messages]
        interrupting = [i for i, kind in enumerate(kinds) if kind == "speech_start"][1]
        # the document's order: speech_start, barge_in, tts_end (interrupted)
        assert interrupting < kinds.index("barge_in") < kinds.index("tts_end")
        cut_at = next(
            t for t, m in received.messages if m["type"] == "tts_end" and m["interrupted"]
        )
        story_bytes = sum(len(chunk) for t, chunk in received.audio if t < cut_at)
        story_heard = story_bytes / 2 / client.ready["output_sample_rate"]
        assert story_heard < (await tts.synthesize(STORY)).duration / 2

        finals = received.of_type("final_transcript")
        assert word_error_rate([(INTERRUPTION, finals[1]["text"])]) <= 0.25
        assert answer_end["interrupted"] is False
        assert received.of_type("tts_start")[1]["text"] == finals[1]["text"]


async def test_a_long_barge_in_threshold_lets_an_interjection_pass_and_interrupt_stops(
    stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    async with _story_gateway(stt, tts, barge_in_ms=5000) as (gw, barge_ins):
        token = gw.auth.issue("alice")
        async with voice_client(f"{gw.ws_url}?token={token}") as client:
            await _story_playing(client, tts)
            await client.say(spoken_turn(await speech(tts, "Okay."), trailing_s=0.6))
            await client.wait_for("final_transcript", count=2)
            assert not client.received.of_type("barge_in")
            assert not client.received.of_type("tts_end")
            assert not barge_ins

            await client.connection.send(json.dumps({"type": "interrupt"}))
            cut = await client.wait_for("tts_end")

        assert cut["interrupted"] is True
        assert not client.received.of_type("barge_in")  # the caller did not speak over it
        assert not barge_ins

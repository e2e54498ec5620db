"""Bad clients against the real gateway over real sockets: each is refused clearly while
a well-behaved caller in the middle of a turn loses nothing.

A client that sends 5 s of audio at once is served, not dropped: since the inbound
mixer stopped running sessions in lockstep, a burst is processed as fast as it comes.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.voice.conftest import (
    SECRET,
    Gateway,
    close_code,
    pcm_frames,
    running_gateway,
    silence,
    speech,
    spoken_turn,
    voice_client,
)
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.websocket import WebSocketVoiceBackend

pytestmark = pytest.mark.models

SENTENCE = "Please turn on the kitchen lights."
SECOND_SENTENCE = "Open the garage door."
HELLO = json.dumps({"type": "hello", "sample_rate": 16000})


async def _refused(gw: Gateway, *messages: str | bytes) -> tuple[int, str]:
    """Connect, send ``messages`` and return how the server closed."""
    async with connect(f"{gw.ws_url}?token={gw.auth.issue('mallory')}") as ws:
        for message in messages:
            await ws.send(message)
        return await close_code(ws)


async def _burst_then_talk(gw: Gateway, tts: PiperTTS) -> str:
    """Send 5 s of audio at once, then speak in real time; returns the final transcript."""
    async with voice_client(f"{gw.ws_url}?token={gw.auth.issue('speedy')}") as client:
        for frame in pcm_frames(silence(16000, 5.0)):
            await client.connection.send(frame)
        await client.say(spoken_turn(await speech(tts, SECOND_SENTENCE)))
        final = await client.wait_for("final_transcript")
        text: str = final["text"]
        return text


async def test_bad_clients_are_refused_and_a_caller_mid_turn_loses_nothing(
    stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    backend = WebSocketVoiceBackend(TokenAuth(SECRET), hello_timeout=0.5)
    async with running_gateway(stt, tts, backend=backend) as gw:
        async with voice_client(f"{gw.ws_url}?token={gw.auth.issue('alice')}") as caller:
            talking = asyncio.create_task(caller.say(spoken_turn(await speech(tts, SENTENCE))))
            async with voice_client(f"{gw.ws_url}?token={gw.auth.issue('flood')}") as flood:
                for frame in pcm_frames(silence(16000, 5.0)):  # 5 s at once
                    await flood.connection.send(frame)
                await flood.connection.send("{not json")
                error = await flood.wait_for("error")
            assert (error["code"], error["fatal"]) == ("invalid_json", False)

            assert await _refused(gw, b"\x00\x00") == (4400, "expected_hello")
            assert await _refused(gw, "{not json") == (4400, "invalid_json")
            unsupported = json.dumps({"type": "hello", "sample_rate": 44100})
            assert await _refused(gw, unsupported) == (4400, "unsupported_sample_rate")
            assert await _refused(gw, HELLO, b"\x00\x00\x00") == (1007, "partial_sample")
            assert await _refused(gw, HELLO, bytes(40000)) == (1009, "frame_too_big")
            assert await _refused(gw) == (4408, "hello_timeout")

            await talking
            await caller.wait_for("tts_end")
            final = caller.received.of_type("final_transcript")[0]
            heard_back = await stt.transcribe(caller.received.audio_frame(caller.output_rate))

        assert word_error_rate([(SENTENCE, final["text"])]) <= 0.2
        assert word_error_rate([(SENTENCE, heard_back.text)]) <= 0.2
        assert word_error_rate([(SECOND_SENTENCE, await _burst_then_talk(gw, tts))]) <= 0.2


async def test_a_full_server_answers_1013_and_keeps_serving_its_sessions(
    stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    async with (
        running_gateway(stt, tts, max_sessions=1) as gw,
        voice_client(f"{gw.ws_url}?token={gw.auth.issue('alice')}") as caller,
    ):
        talking = asyncio.create_task(caller.say(spoken_turn(await speech(tts, SENTENCE))))
        assert await _refused(gw, HELLO) == (1013, "server_busy")
        await talking
        final = await caller.wait_for("final_transcript")
        assert word_error_rate([(SENTENCE, final["text"])]) <= 0.2
        assert len(await gw.kit.store.list_rooms()) == 1

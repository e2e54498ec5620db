"""A whole voice turn over a real WebSocket, on the real models, with the echo responder."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from tests.voice.conftest import (
    Gateway,
    Received,
    fatal_error,
    last_words,
    pcm_frames,
    receive_into,
    silence,
    speech,
    stream_realtime,
)
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

SENTENCE = "Please turn on the kitchen lights."


async def test_a_spoken_turn_is_transcribed_committed_and_echoed_back(
    gateway: Gateway, stt: FasterWhisperSTT, stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    token = gateway.auth.issue("alice")
    audio = await speech(tts, SENTENCE)
    frames = pcm_frames(silence(16000, 0.3)) + pcm_frames(audio) + pcm_frames(silence(16000, 2.0))
    received = Received()
    async with connect(f"{gateway.ws_url}?token={token}") as ws:
        await ws.send(json.dumps({"type": "hello", "sample_rate": 16000}))
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready"
        output_rate = ready["output_sample_rate"]
        sender = asyncio.create_task(stream_realtime(ws, frames))
        await asyncio.wait_for(receive_into(ws, received, "tts_end"), 30)
        await sender

    kinds = [m["type"] for _, m in received.messages]
    assert kinds.index("speech_start") < kinds.index("speech_end") < kinds.index("final_transcript")
    assert kinds.index("final_transcript") < kinds.index("tts_start") < kinds.index("tts_end")
    final = received.of_type("final_transcript")[0]
    # at most one word in six: tiny.en heard Piper's "lights" as "whites" once in CI
    assert word_error_rate([(SENTENCE, final["text"])]) <= 0.2
    assert final["event_id"] is not None

    own = [
        m["event"] for m in received.of_type("room_event") if m["event"]["id"] == final["event_id"]
    ]
    assert own[0]["content"]["body"] == final["text"]
    timeline = await gateway.kit.get_timeline(ready["room_id"])
    assert [e.content.body for e in timeline] == [final["text"], final["text"]]
    assert timeline[1].source.channel_id == "echo"

    answer_audio = received.audio_frame(output_rate)
    assert answer_audio.duration > 1.0
    heard_back = await stt_base.transcribe(answer_audio)
    assert word_error_rate([(SENTENCE, heard_back.text)]) <= 0.2
    metrics = received.of_type("turn_metrics")[0]["metrics"]["stages_ms"]
    assert set(metrics) == {"endpoint", "stt", "room", "tts", "total"}


@pytest.mark.parametrize("query", ["?token=forged.token", "", "?token=EXPIRED"])
async def test_bad_missing_or_expired_tokens_close_with_4401(gateway: Gateway, query: str) -> None:
    if query == "?token=EXPIRED":
        query = "?token=" + gateway.auth.issue("mallory", ttl=-1)
    async with connect(gateway.ws_url + query) as ws:
        with pytest.raises(ConnectionClosedError) as raised:
            await ws.recv()
    assert raised.value.rcvd is not None
    assert (raised.value.rcvd.code, raised.value.rcvd.reason) == (4401, "unauthorized")
    assert await gateway.kit.store.list_rooms() == []


async def test_shutdown_tells_open_sessions_the_server_is_going_away(gateway: Gateway) -> None:
    token = gateway.auth.issue("alice")
    async with connect(f"{gateway.ws_url}?token={token}") as ws:
        await ws.send(json.dumps({"type": "hello", "sample_rate": 16000}))
        assert json.loads(await ws.recv())["type"] == "ready"
        await gateway.gateway.close()
        last = await last_words(ws)
    assert last == (fatal_error("server_shutting_down"), 1001, "server_shutting_down")

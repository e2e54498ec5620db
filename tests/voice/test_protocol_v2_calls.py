"""Version 2 through the real server, Whisper and Piper, beside a version 1 client."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.voice.conftest import Gateway, speech, spoken_turn, voice_client
from voicegate.audio.frame import AudioFrame
from voicegate.audio.g711 import ULAW
from voicegate.core.models import EventType
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

SENTENCE = "Please turn on the kitchen lights and close the blinds in the living room."
TYPED = "Please open the garage door."
PLAYED_MS = 900
"""How much of the answer the version 2 client says it played before it interrupts."""

V2_FIELDS = {"protocol", "turn_id", "response_id", "heard"}


async def test_a_version_1_and_a_version_2_client_share_a_room(
    gateway: Gateway, tts: PiperTTS
) -> None:
    url = f"{gateway.ws_url}?token="
    async with voice_client(url + gateway.auth.issue("alice")) as v1:
        room_id = v1.ready["room_id"]
        bob = gateway.auth.issue("bob", rooms=[room_id])
        async with voice_client(url + bob, {"room_id": room_id, "protocol": 2}) as v2:
            await v1.say(spoken_turn(await speech(tts, SENTENCE)))
            started = await v2.wait_for("tts_start")
            # v2 plays what it gets in real time: it reports what it played, then interrupts
            played_bytes = PLAYED_MS * v2.output_rate // 1000 * 2
            await v2.wait_until(lambda r: sum(len(a) for _, a in r.audio) >= played_bytes)
            mark = {"type": "played", "response_id": started["response_id"], "ms": PLAYED_MS}
            await v2.connection.send(json.dumps(mark))
            await v2.connection.send(json.dumps({"type": "interrupt"}))
            cut = await v2.wait_for("tts_end")
            await v1.wait_for("tts_end")
            metrics = await v1.wait_for("turn_metrics")
            await asyncio.sleep(0.3)
        timeline = await gateway.kit.get_timeline(room_id)

    # version 1 gets exactly what it always got
    assert "protocol" not in v1.ready
    for message in v1.received.of_type("final_transcript") + v1.received.of_type("tts_start"):
        assert not V2_FIELDS & set(message), message
    assert v1.received.of_type("tts_end")[0]["interrupted"] is False  # v2's interrupt is its own
    assert word_error_rate([(SENTENCE, v1.received.of_type("final_transcript")[0]["text"])]) <= 0.2

    # version 2: one turn id across the transcript, the answer and the metrics
    assert v2.ready["protocol"] == 2
    assert v2.received.of_type("final_transcript") == []  # v2 did not speak: no turn of its own
    turn_id = metrics["metrics"]["turn_id"]
    transcript, answer = v2.received.of_type("room_event")[:2]
    assert transcript["turn_id"] == answer["turn_id"] == started["turn_id"] == turn_id
    assert started["response_id"] == answer["event"]["response_id"] == cut["response_id"]
    assert cut["turn_id"] == turn_id
    assert cut["interrupted"] is True
    heard = cut["heard"]
    assert heard["interrupted_at_ms"] == PLAYED_MS
    spoken = started["text"].split()
    assert 0 < len(heard["text"].split()) < len(spoken)
    assert spoken[: len(heard["text"].split())] == heard["text"].split()
    [record] = [e for e in timeline if e.type is EventType.SYSTEM]
    assert record.metadata["heard"]["text"] == heard["text"]
    assert record.metadata["heard"]["response_id"] == started["response_id"]
    assert record.metadata["heard"]["turn_id"] == turn_id


async def test_words_typed_with_say_are_answered_aloud_and_text_is_only_posted(
    gateway: Gateway, stt_base: FasterWhisperSTT
) -> None:
    url = f"{gateway.ws_url}?token="
    async with voice_client(url + gateway.auth.issue("alice"), {"protocol": 2}) as v2:
        room_id = v2.ready["room_id"]
        bob = gateway.auth.issue("bob", rooms=[room_id])
        async with voice_client(url + bob, {"room_id": room_id}) as v1:
            await v2.connection.send(json.dumps({"type": "text", "text": "typing, not talking"}))
            await v2.connection.send(json.dumps({"type": "say", "text": TYPED}))
            final = await v2.wait_for("final_transcript")
            await v2.wait_for("tts_end")
            await v1.wait_for("tts_end")
            await asyncio.sleep(0.3)
        timeline = await gateway.kit.get_timeline(room_id)

    posted, typed, answer = timeline
    assert posted.metadata["text"]["session_id"] == v2.ready["session_id"]
    assert (final["text"], final["event_id"]) == (TYPED, typed.id)
    assert answer.metadata["responds_to"] == typed.id
    for client in (v1, v2):  # both heard Piper say it, as Whisper tells
        heard = await stt_base.transcribe(client.received.audio_frame(client.output_rate))
        assert word_error_rate([(TYPED, heard.text)]) <= 0.2
    v1_events = [m["event"]["id"] for m in v1.received.of_type("room_event")]
    assert v1_events[:3] == [posted.id, typed.id, answer.id]
    assert len(v2.received.of_type("tts_start")) == 1  # the posted text got no answer


async def test_push_to_talk_turns_end_at_commit_with_whisper_and_piper(
    gateway: Gateway, tts: PiperTTS
) -> None:
    url = f"{gateway.ws_url}?token={gateway.auth.issue('alice')}"
    async with voice_client(url, {"protocol": 2}) as client:
        update = {"type": "session.update", "session": {"turn_detection": "manual"}}
        await client.connection.send(json.dumps(update))
        updated = await client.wait_for("session.updated")
        # 1.5 s of silence after the words: the server would have ended the turn after 0.3 s
        await client.say(spoken_turn(await speech(tts, TYPED), trailing_s=1.5))
        before_commit = [m["type"] for _, m in client.received.messages]
        await client.connection.send(json.dumps({"type": "commit"}))
        final = await client.wait_for("final_transcript")
        await client.wait_for("tts_end")
    assert updated["session"]["turn_detection"] == "manual"
    assert updated["session"]["end_of_speech_ms"] == 300  # the others as they were
    assert "speech_start" in before_commit
    assert "speech_end" not in before_commit
    assert word_error_rate([(TYPED, final["text"])]) <= 0.2


async def test_answers_come_as_the_hello_asked_8_khz_mu_law_heard_right(
    gateway: Gateway, tts: PiperTTS, stt_base: FasterWhisperSTT
) -> None:
    url = f"{gateway.ws_url}?token={gateway.auth.issue('alice')}"
    asked = {"protocol": 2, "output_sample_rate": 8000, "output_format": "mulaw"}
    async with voice_client(url, asked) as client:
        await client.say(spoken_turn(await speech(tts, TYPED)))
        await client.wait_for("tts_end")
    assert (client.ready["output_sample_rate"], client.ready["output_format"]) == (8000, "mulaw")
    codes = b"".join(chunk for _, chunk in client.received.audio)
    assert all(len(chunk) == 160 for _, chunk in client.received.audio[:-1])  # 20 ms a frame
    answer = AudioFrame(ULAW.decode(codes), 8000)
    heard = await stt_base.transcribe(answer)
    assert word_error_rate([(TYPED, heard.text)]) <= 0.2

"""Version 2 through the real server, Whisper and Piper, beside a version 1 client."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.voice.conftest import Gateway, speech, spoken_turn, voice_client
from voicegate.core.models import EventType
from voicegate.stt.wer import word_error_rate
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

SENTENCE = "Please turn on the kitchen lights and close the blinds in the living room."
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

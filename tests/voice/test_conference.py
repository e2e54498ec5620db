"""Two voice sessions in one room: each hears the answers the room's visibility allows."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.voice.conftest import (
    Gateway,
    fatal_error,
    last_words,
    speech,
    spoken_turn,
    voice_client,
)
from voicegate.core.hooks import HookResult, HookTrigger
from voicegate.core.models import RoomContext, RoomEvent
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

SENTENCE = "Please turn on the kitchen lights."


@pytest.mark.parametrize("private", [False, True], ids=["visible-to-all", "answer-to-a-only"])
async def test_a_second_caller_hears_the_room_as_visibility_allows(
    gateway: Gateway, stt_base: FasterWhisperSTT, tts: PiperTTS, private: bool
) -> None:
    url = f"{gateway.ws_url}?token="
    async with voice_client(url + gateway.auth.issue("alice")) as a:
        room_id = a.ready["room_id"]
        a_channel = f"voice:{a.ready['session_id']}"
        if private:

            @gateway.kit.hook(HookTrigger.BEFORE_BROADCAST, name="answers-to-speaker")
            async def answers_to_speaker(event: RoomEvent, context: RoomContext) -> HookResult:
                if event.source.channel_id != a_channel:
                    return HookResult.allow()
                return HookResult.modify(event.copy(response_visibility=a_channel))

        bob = gateway.auth.issue("bob", rooms=[room_id])
        async with voice_client(url + bob, {"room_id": room_id}) as b:
            assert b.ready["room_id"] == room_id
            await a.say(spoken_turn(await speech(tts, SENTENCE)))
            await a.wait_for("tts_end")
            transcript = (await b.wait_for("room_event"))["event"]
            if not private:
                await b.wait_for("tts_end")
            await asyncio.sleep(0.3)

    heard_by_a = await stt_base.transcribe(a.received.audio_frame(a.output_rate))
    assert word_error_rate([(SENTENCE, heard_by_a.text)]) <= 0.2
    assert transcript["source"]["channel_id"] == a_channel
    assert word_error_rate([(SENTENCE, transcript["content"]["body"])]) <= 0.2
    assert not b.received.of_type("final_transcript")  # B did not speak
    b_events = [m["event"] for m in b.received.of_type("room_event")]
    if private:
        assert [e["source"]["channel_id"] for e in b_events] == [a_channel]
        assert not b.received.of_type("tts_start")
        assert not b.received.audio
    else:
        assert [e["source"]["channel_id"] for e in b_events] == [a_channel, "echo"]
        heard_by_b = await stt_base.transcribe(b.received.audio_frame(b.output_rate))
        assert word_error_rate([(SENTENCE, heard_by_b.text)]) <= 0.2


async def test_joining_a_granted_room_that_does_not_exist_closes_with_4404(
    gateway: Gateway,
) -> None:
    token = gateway.auth.issue("alice", rooms=["nowhere"])
    async with connect(f"{gateway.ws_url}?token={token}") as ws:
        await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "room_id": "nowhere"}))
        last = await last_words(ws)
    assert last == (fatal_error("room_not_found"), 4404, "room_not_found")  # an error first
    assert await gateway.kit.store.list_rooms() == []

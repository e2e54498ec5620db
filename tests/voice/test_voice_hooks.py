"""Voice hooks and framework events around real spoken turns over a real WebSocket."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from tests.voice.conftest import Gateway, speech, spoken_turn, voice_client
from voicegate.core.framework import FrameworkEvent
from voicegate.core.hooks import HookResult, HookTrigger
from voicegate.stt.base import Transcript
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.auth import auth_context
from voicegate.voice.session import VoiceSession

pytestmark = pytest.mark.models

LONG_SENTENCE = "Please turn on the kitchen lights and close the curtains in the living room."
SHORT_SENTENCE = "Please turn on the kitchen lights."
REWRITTEN = "The hallway door is locked."


async def test_hooks_see_modify_and_the_session_lifecycle_is_announced(
    gateway: Gateway, stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    kit = gateway.kit
    seen: dict[str, list[Any]] = {}
    ended = asyncio.Event()

    def record(trigger: HookTrigger) -> None:
        @kit.hook(trigger, name=f"record-{trigger}")
        async def recorder(payload: Any, session: Any) -> None:
            seen.setdefault(str(trigger), []).append(payload)

    for trigger in (
        HookTrigger.ON_SPEECH_START,
        HookTrigger.ON_SPEECH_END,
        HookTrigger.ON_PARTIAL_TRANSCRIPTION,
        HookTrigger.AFTER_TTS,
    ):
        record(trigger)

    @kit.hook(HookTrigger.ON_SESSION_STARTED, name="session-started")
    async def session_started(session: VoiceSession, context: Any) -> None:
        seen["session"] = [session, auth_context.get()]

    @kit.hook(HookTrigger.ON_TRANSCRIPTION, name="tag-transcript")
    async def tag(transcript: Transcript, session: VoiceSession) -> HookResult:
        return HookResult.modify(dataclasses.replace(transcript, text=f"heard {transcript.text}"))

    @kit.hook(HookTrigger.BEFORE_TTS, name="rewrite-answer")
    async def rewrite(text: str, session: VoiceSession) -> HookResult:
        seen["before_tts"] = [text]
        return HookResult.modify(REWRITTEN)

    @kit.on("voice_session_started")
    @kit.on("voice_session_ended")
    async def lifecycle(event: FrameworkEvent) -> None:
        seen.setdefault("framework", []).append(event)
        if event.type == "voice_session_ended":
            ended.set()

    token = gateway.auth.issue("alice", claims={"role": "tester"})
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        await client.say(spoken_turn(await speech(tts, LONG_SENTENCE)))
        await client.wait_for("tts_end")
        received = client.received
        session_id = client.ready["session_id"]
    await asyncio.wait_for(ended.wait(), 10)

    final = received.of_type("final_transcript")[0]
    assert final["text"].startswith("heard ")
    assert word_error_rate([(LONG_SENTENCE, final["text"].removeprefix("heard "))]) <= 0.1
    timeline = await kit.get_timeline(client.ready["room_id"])
    assert timeline[0].content.body == final["text"]  # type: ignore[union-attr]
    assert seen["before_tts"] == [final["text"]]
    assert received.of_type("tts_start")[0]["text"] == REWRITTEN
    heard_back = (await stt_base.transcribe(received.audio_frame(client.output_rate))).text
    # The rewrite was spoken, not the words the hook saw: what is heard back is nearer the
    # one than the other. No bound on its own WER: Whisper (tiny.en and base) heard Piper's
    # five words with two missed twice in full CI runs ("hall we door", "door to slot") and
    # three once ("The hallway doors lock."), though 0 of 30 renderings offline.
    assert heard_back.strip()
    assert word_error_rate([(REWRITTEN, heard_back)]) < word_error_rate(
        [(final["text"], heard_back)]
    )

    assert len(seen[HookTrigger.ON_SPEECH_START]) == 1
    assert len(seen[HookTrigger.ON_SPEECH_END]) == 1
    assert seen[HookTrigger.ON_PARTIAL_TRANSCRIPTION]
    assert seen[HookTrigger.AFTER_TTS] == [REWRITTEN]

    session, context_metadata = seen["session"]
    assert session.id == session_id
    assert session.metadata["subject"] == "alice"
    assert session.metadata["claims"] == {"role": "tester"}
    assert context_metadata == session.metadata
    assert [(e.type, e.data["session_id"]) for e in seen["framework"]] == [
        ("voice_session_started", session_id),
        ("voice_session_ended", session_id),
    ]


def _refusing_hook(how: str) -> Any:
    async def refuse(payload: Any, session: Any) -> HookResult:
        if how == "raise":
            raise RuntimeError("hook broke")
        return HookResult.block("not allowed")

    return refuse


@pytest.mark.parametrize("how", ["block", "raise"])
async def test_a_blocking_or_raising_transcription_hook_keeps_the_words_out_of_the_room(
    gateway: Gateway, tts: PiperTTS, how: str
) -> None:
    gateway.kit.hook(HookTrigger.ON_TRANSCRIPTION, name="refuse")(_refusing_hook(how))
    token = gateway.auth.issue("alice")
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        await client.say(spoken_turn(await speech(tts, SHORT_SENTENCE), trailing_s=0.6))
        final = await client.wait_for("final_transcript")
        await asyncio.sleep(0.3)
        received = client.received

    assert final["event_id"] is None
    assert word_error_rate([(SHORT_SENTENCE, final["text"])]) <= 0.2
    assert await gateway.kit.get_timeline(client.ready["room_id"]) == []
    assert not received.of_type("room_event")
    assert not received.of_type("tts_start")


@pytest.mark.parametrize("how", ["block", "raise"])
async def test_a_blocking_or_raising_before_tts_hook_keeps_the_answer_silent(
    gateway: Gateway, tts: PiperTTS, how: str
) -> None:
    gateway.kit.hook(HookTrigger.BEFORE_TTS, name="refuse")(_refusing_hook(how))
    token = gateway.auth.issue("alice")
    async with voice_client(f"{gateway.ws_url}?token={token}") as client:
        await client.say(spoken_turn(await speech(tts, SHORT_SENTENCE), trailing_s=0.6))
        answer = await client.wait_for("room_event", count=2)
        await asyncio.sleep(0.5)
        received = client.received

    assert answer["event"]["source"]["channel_id"] == "echo"
    assert not received.of_type("tts_start")
    assert not received.audio

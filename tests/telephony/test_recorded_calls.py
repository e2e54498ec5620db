"""Phone calls on a gateway that records calls: a Twilio Media Stream and a SIP call (baresip)
each leave a stereo recording of both sides, and its room event, without asking."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.recordings import check_recording, recording_of, session_end, speech_end_s
from tests.telephony.conftest import phone_gateway, phone_speech, sip_backend
from tests.telephony.peers import Baresip
from tests.telephony.test_sip_calls import wait_until_no_calls
from tests.telephony.test_twilio_calls import TOKENS
from voicegate.bench.prompts import Prompt
from voicegate.bench.twilio_client import TwilioMediaStreamClient
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import RoomEvent, TextContent
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.telephony.sip.backend import SIPVoiceBackend
from voicegate.telephony.twilio.auth import TwilioTokenAuth
from voicegate.telephony.twilio.backend import TwilioVoiceBackend
from voicegate.tts.piper import PiperTTS
from voicegate.voice.recording import RecordingOptions
from voicegate.voice.session import VoiceSession

pytestmark = pytest.mark.models


async def test_a_twilio_call_is_recorded_both_sides_time_aligned(
    stt: FasterWhisperSTT,
    stt_base: FasterWhisperSTT,
    tts: PiperTTS,
    tmp_path: Path,
    prompts: dict[str, Prompt],
) -> None:
    prompt = prompts["cannot-complete-as-dialed"]
    backend = TwilioVoiceBackend(TwilioTokenAuth(TOKENS))
    recording = RecordingOptions(tmp_path)
    async with phone_gateway(stt, tts, [backend], recording=recording) as phone:
        url = phone.url("/twilio/stream", "ws")
        parameters = {"token": TOKENS.issue("+15551234567")}
        async with session_end(phone.kit) as session_ended:
            began = time.monotonic()
            async with TwilioMediaStreamClient(url, custom_parameters=parameters) as call:
                room_id = await _room_of_the_call(phone.gateway.sessions)
                await call.speak(phone_speech(prompt))
                await call.wait_until(lambda: call.record.marks_echoed, 60)
            await session_ended()  # leaving sent stop
            ended = time.monotonic()
        events = await phone.kit.store.list_events(room_id, limit=100)

    await _check_call(stt_base, tmp_path, events, prompt, ended - began)


async def test_a_sip_call_is_recorded_both_sides_time_aligned(
    stt: FasterWhisperSTT,
    stt_base: FasterWhisperSTT,
    tts: PiperTTS,
    tmp_path: Path,
    prompts: dict[str, Prompt],
) -> None:
    prompt = prompts["conf-placeintoconf"]
    recordings = tmp_path / "recordings"
    backend = SIPVoiceBackend(allow_anonymous=True, port=0)
    recording = RecordingOptions(recordings)
    spoken = asyncio.Event()
    async with phone_gateway(stt, tts, [backend], recording=recording) as phone:

        @phone.kit.hook(HookTrigger.AFTER_TTS, name="spoken")
        async def after_tts(text: str, session: object) -> None:
            spoken.set()

        async with session_end(phone.kit) as session_ended:
            async with Baresip(tmp_path, phone_speech(prompt)) as phone_user:
                target = f"sip:voicegate@127.0.0.1:{sip_backend(phone).port}"
                began = time.monotonic()
                phone_user.command("dial", target)
                await phone_user.wait_event("CALL_ESTABLISHED")
                room_id = await _room_of_the_call(phone.gateway.sessions)
                await asyncio.wait_for(spoken.wait(), 60)  # the echo, played to the end
                phone_user.command("hangup")
                await phone_user.wait_event("CALL_CLOSED")
                await wait_until_no_calls(phone)
            await session_ended()
            ended = time.monotonic()
        events = await phone.kit.store.list_events(room_id, limit=100)

    await _check_call(stt_base, recordings, events, prompt, ended - began)


async def _check_call(
    judge: FasterWhisperSTT,
    folder: Path,
    events: list[RoomEvent],
    prompt: Prompt,
    stay_s: float,
) -> None:
    """The call's recording holds both sides (see ``check_recording``, heard by ``judge``)
    and its transcript;
    ``stay_s`` is the client's whole stay, from before dialling until the call had ended."""
    transcript, answer = _turn(events)
    _, content = recording_of(events)
    await check_recording(
        judge,
        folder,
        content,
        caller_said=prompt.text,
        answered=answer,
        call_at_least_s=speech_end_s(phone_speech(prompt)),
        call_at_most_s=stay_s,
    )
    assert content.transcript == f"caller: {transcript}\nanswer: {answer}"


async def _room_of_the_call(sessions: dict[str, VoiceSession]) -> str:
    """The room of the one session, once it is open."""
    async with asyncio.timeout(10):
        while not sessions:  # noqa: ASYNC110 - the gateway signals no session's start
            await asyncio.sleep(0.01)
    [session] = sessions.values()
    return session.room_id


def _turn(events: list[RoomEvent]) -> tuple[str, str]:
    """The caller's transcript and the echo's answer."""
    transcript, answer, *_ = [e.content.body for e in events if isinstance(e.content, TextContent)]
    return transcript, answer

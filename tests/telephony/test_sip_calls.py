"""SIP calls on the real models: SIPp and baresip speak Asterisk's recordings over RTP, the
transcript lands in the room, baresip hears the echo and its keys (RFC 4733) are answered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.telephony.conftest import PhoneGateway, phone_gateway, phone_speech, sip_backend
from tests.telephony.peers import Baresip, sipp, write_g711
from voicegate.audio.g711 import ULAW
from voicegate.bench.prompts import Prompt
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import EventType
from voicegate.stt.wer import normalize, word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.telephony.sip.backend import SIPVoiceBackend
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models


@asynccontextmanager
async def sip_gateway(stt: FasterWhisperSTT, tts: PiperTTS) -> AsyncIterator[PhoneGateway]:
    backend = SIPVoiceBackend(allow_anonymous=True, port=0)
    async with phone_gateway(stt, tts, [backend]) as phone:
        yield phone


async def bodies(phone: PhoneGateway) -> list[tuple[EventType, str]]:
    (room,) = await phone.kit.store.list_rooms()
    return [(e.type, getattr(e.content, "body", "")) for e in await phone.kit.get_timeline(room.id)]


async def test_sipp_speech_over_rtp_is_transcribed_into_the_room(
    stt: FasterWhisperSTT, tts: PiperTTS, tmp_path: Path, prompts: dict[str, Prompt]
) -> None:
    prompt = prompts["cannot-complete-as-dialed"]
    audio = write_g711(tmp_path / "speech.ulaw", phone_speech(prompt), ULAW)
    async with sip_gateway(stt, tts) as phone:
        run = await sipp(
            "call",
            sip_backend(phone).port,
            tmp_path,
            replace={"AUDIO": str(audio), "HEADERS": ""},
            args=("-d", "8000"),
        )
        events = await bodies(phone)
    assert run.returncode == 0, run
    (kind, transcript), (_, answer) = events[:2]
    assert kind is EventType.MESSAGE
    assert word_error_rate([(prompt.text, transcript)]) == 0.0
    assert answer == transcript


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_baresip_is_heard_hears_the_echo_and_its_keys_are_answered(
    transport: str,
    stt: FasterWhisperSTT,
    stt_base: FasterWhisperSTT,
    tts: PiperTTS,
    tmp_path: Path,
    prompts: dict[str, Prompt],
) -> None:
    prompt = prompts["conf-placeintoconf"]
    spoken: asyncio.Queue[str] = asyncio.Queue()
    async with sip_gateway(stt, tts) as phone:

        @phone.kit.hook(HookTrigger.AFTER_TTS, name="spoken")
        async def after_tts(text: str, session: object) -> None:
            spoken.put_nowait(text)

        async with Baresip(tmp_path, phone_speech(prompt)) as phone_user:
            target = f"sip:voicegate@127.0.0.1:{sip_backend(phone).port};transport={transport}"
            phone_user.command("dial", target)
            await phone_user.wait_event("CALL_ESTABLISHED")
            established = asyncio.get_running_loop().time()
            echoed = await asyncio.wait_for(spoken.get(), 60)  # the echo, played to the end
            phone_user.command("sndcode", "5")
            pressed = await asyncio.wait_for(spoken.get(), 60)
            # sent to the end; the phone hangs up once it has played (and recorded) as much
            await phone_user.wait_heard(asyncio.get_running_loop().time() - established)
            phone_user.command("hangup")
            await phone_user.wait_event("CALL_CLOSED")
            await wait_until_no_calls(phone)
            heard = phone_user.heard()
        events = await bodies(phone)

    transcript = events[0][1]
    assert word_error_rate([(prompt.text, transcript)]) == 0.0
    assert echoed == transcript
    assert (EventType.DTMF, "5") in events
    assert pressed == "You pressed 5."
    heard_back = (await stt_base.transcribe(heard)).text  # the echo, then the key said back
    assert word_error_rate([(f"{prompt.text} {pressed}", heard_back)]) <= 0.2
    assert normalize(heard_back).split()[-1] == "5"


async def wait_until_no_calls(phone: PhoneGateway) -> None:
    """The caller's BYE ended the call on voicegate's side too."""
    backend = sip_backend(phone)
    async with asyncio.timeout(10):
        while backend.calls:  # noqa: ASYNC110 - nothing signals a call's end
            await asyncio.sleep(0.05)

"""SIP calls placed by SIPp on loopback, against fake speech models: every call flow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.telephony.conftest import (
    PhoneGateway,
    any_room,
    call_confirmed,
    phone_gateway,
    phone_speech,
    sip_backend,
    wait_for,
)
from tests.telephony.peers import sipp, write_g711
from voicegate.audio.g711 import ALAW, ULAW
from voicegate.bench.prompts import Prompt
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import EventType
from voicegate.telephony.sip.backend import SIPVoiceBackend
from voicegate.telephony.sip.digest import SIPDigestAuth
from voicegate.testing import ScriptedSTT, ToneTTS
from voicegate.voice.auth import AuthCallback

SAID = "you will now be placed into the conference"


@asynccontextmanager
async def sip_gateway(
    stt: ScriptedSTT | None = None,
    auth: AuthCallback | None = None,
    *,
    max_sessions: int = 32,
    **options: Any,
) -> AsyncIterator[PhoneGateway]:
    """A gateway with only a SIP backend on a free port (anonymous unless ``auth``)."""
    backend = SIPVoiceBackend(auth, allow_anonymous=auth is None, port=0, **options)
    async with phone_gateway(
        stt or ScriptedSTT([SAID]), ToneTTS(), [backend], max_sessions=max_sessions
    ) as phone:
        yield phone


async def texts(phone: PhoneGateway) -> list[tuple[EventType, str]]:
    """Every room's events: type and text."""
    found = []
    for room in await phone.kit.store.list_rooms():
        for event in await phone.kit.get_timeline(room.id):
            found.append((event.type, getattr(event.content, "body", "")))
    return found


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_a_call_carries_speech_into_the_room_and_the_caller_hangs_up(
    transport: str, tmp_path: Path, prompts: dict[str, Prompt]
) -> None:
    audio = write_g711(tmp_path / "speech.ulaw", phone_speech(prompts["conf-placeintoconf"]), ULAW)
    stt = ScriptedSTT([SAID])
    async with sip_gateway(stt) as phone:
        port = sip_backend(phone).port
        run = await sipp(
            "call",
            port,
            tmp_path,
            transport=transport,
            replace={"AUDIO": str(audio), "HEADERS": ""},
            args=("-d", "5000"),
        )
        events = await texts(phone)
        metrics = phone.metrics.render().decode()
    assert run.returncode == 0, run
    assert events == [(EventType.MESSAGE, SAID), (EventType.MESSAGE, SAID)]
    assert stt.audio_seconds[0] > 2.0  # the recording (2.4 s) came through RTP
    assert 'voicegate_sessions_total{transport="sip"} 1.0' in metrics
    assert "SIP/2.0 200 OK" in run.messages


async def test_voicegate_hangs_up_its_calls_when_it_closes(tmp_path: Path) -> None:
    async with sip_gateway() as phone:
        backend = sip_backend(phone)
        call = asyncio.create_task(sipp("wait_bye", backend.port, tmp_path))
        await wait_for(lambda: call_confirmed(backend) or call.done())
        await phone.gateway.close()
        run = await call
    assert run.returncode == 0, run  # it got voicegate's BYE and answered it


async def test_a_call_without_rtp_is_hung_up(tmp_path: Path) -> None:
    async with sip_gateway(rtp_timeout=1.0) as phone:
        run = await sipp("wait_bye", sip_backend(phone).port, tmp_path)
    assert run.returncode == 0, run
    assert "BYE sip:bob@" in run.messages


async def test_a_call_cancelled_before_its_answer_gets_487(tmp_path: Path) -> None:
    release = asyncio.Event()
    async with sip_gateway() as phone:

        @phone.kit.hook(HookTrigger.ON_ROOM_CREATED, name="slow-room")
        async def slow_room(room: object, context: object) -> None:
            await release.wait()  # the call rings until the caller gives up

        run = await sipp("cancel", sip_backend(phone).port, tmp_path)
        release.set()
        await wait_for(lambda: not sip_backend(phone).calls)
    assert run.returncode == 0, run
    assert "SIP/2.0 487 Request Terminated" in run.messages
    assert run.messages.count("SIP/2.0 200 OK") == 1  # the CANCEL's: the INVITE got none


async def test_options_answers_with_what_voicegate_allows(tmp_path: Path) -> None:
    async with sip_gateway() as phone:
        run = await sipp("options", sip_backend(phone).port, tmp_path, transport="tcp")
    assert run.returncode == 0, run


@pytest.mark.parametrize("password", ["correct horse", "wrong"])
async def test_digest_authentication_accepts_the_password_and_refuses_others(
    password: str, tmp_path: Path
) -> None:
    auth = SIPDigestAuth({"dave": "correct horse"})
    async with sip_gateway(auth=auth) as phone:
        run = await sipp(
            "auth", sip_backend(phone).port, tmp_path, args=("-au", "dave", "-ap", password)
        )
        rooms = await phone.kit.store.list_rooms()
        metrics = phone.metrics.render().decode()
    assert run.returncode == 0, run
    assert run.messages.count("SIP/2.0 401 Unauthorized") == (1 if password != "wrong" else 2)
    assert 'WWW-Authenticate: Digest realm="voicegate"' in run.messages
    if password == "wrong":
        assert rooms == []
        assert 'voicegate_errors_total{kind="auth"} 2.0' in metrics
    else:
        assert len(rooms) == 1
        assert 'voicegate_sessions_total{transport="sip"} 1.0' in metrics


async def test_a_key_sent_as_sip_info_reaches_the_room(tmp_path: Path) -> None:
    async with sip_gateway(ScriptedSTT([])) as phone:
        run = await sipp("info", sip_backend(phone).port, tmp_path, args=("-d", "1500"))
        events = await texts(phone)
    assert run.returncode == 0, run  # the unknown INFO body got 415
    assert events == [(EventType.DTMF, "8"), (EventType.MESSAGE, "You pressed 8.")]


@pytest.mark.parametrize(("hold", "held"), [("sendonly", "recvonly"), ("inactive", "inactive")])
async def test_hold_and_resume_with_reinvites(hold: str, held: str, tmp_path: Path) -> None:
    seen_held = []
    async with sip_gateway(rtp_timeout=1.0 if hold == "inactive" else 30.0) as phone:
        backend = sip_backend(phone)
        run_task = asyncio.create_task(
            sipp(
                "hold",
                backend.port,
                tmp_path,
                replace={"HOLD": hold, "HELD": held},
                args=("-d", "3000"),
            )
        )
        await wait_for(lambda: any(c.media.held for c in backend.calls) or run_task.done())
        seen_held.append(any(c.media.held for c in backend.calls))
        await wait_for(lambda: not any(c.media.held for c in backend.calls) or run_task.done())
        run = await run_task
    assert run.returncode == 0, run  # with a=inactive, 3 s without RTP did not hang up
    assert seen_held == [True]
    assert "BYE sip:frank@" not in run.messages  # voicegate never hung up


async def test_an_invite_without_sdp_is_offered_pcmu_pcma_and_answered_in_the_ack(
    tmp_path: Path, prompts: dict[str, Prompt]
) -> None:
    audio = write_g711(tmp_path / "speech.alaw", phone_speech(prompts["conf-placeintoconf"]), ALAW)
    stt = ScriptedSTT([SAID])
    async with sip_gateway(stt) as phone:
        run = await sipp(
            "no_sdp",
            sip_backend(phone).port,
            tmp_path,
            replace={"AUDIO": str(audio)},
            args=("-d", "5000"),
        )
    assert run.returncode == 0, run
    assert stt.audio_seconds[0] > 2.0  # A-law RTP, as the ACK's answer chose


async def test_malformed_unknown_and_unusable_requests_get_their_4xx(tmp_path: Path) -> None:
    async with sip_gateway() as phone:
        run = await sipp("malformed", sip_backend(phone).port, tmp_path)
        rooms = await phone.kit.store.list_rooms()
        metrics = phone.metrics.render().decode()
    assert run.returncode == 0, run  # 400, 405, 501, 481 and 488, each as expected
    assert rooms == []
    assert 'voicegate_errors_total{kind="protocol"} 1.0' in metrics
    assert 'voicegate_errors_total{kind="offer"} 1.0' in metrics


async def test_an_invite_flood_beyond_max_sessions_gets_503_with_retry_after(
    tmp_path: Path,
) -> None:
    async with sip_gateway(max_sessions=2) as phone:
        run = await sipp(
            "flood", sip_backend(phone).port, tmp_path, calls=8, args=("-d", "3000", "-r", "100")
        )
        metrics = phone.metrics.render().decode()
    assert run.returncode == 0, run
    assert run.messages.count("SIP/2.0 503 Service Unavailable") == 6
    assert run.messages.count("Retry-After: 5") == 6
    assert 'voicegate_sessions_total{transport="sip"} 2.0' in metrics
    assert 'voicegate_errors_total{kind="server_busy"} 6.0' in metrics


@pytest.mark.parametrize("carrier", ["header", "uri"])
async def test_the_room_comes_from_a_header_or_the_request_uri(
    carrier: str, tmp_path: Path, prompts: dict[str, Prompt]
) -> None:
    audio = write_g711(tmp_path / "speech.ulaw", phone_speech(prompts["conf-placeintoconf"]), ULAW)
    async with sip_gateway(auth=any_room, uri_rooms=carrier == "uri") as phone:
        room = await phone.kit.create_room()
        headers = f"      X-Voicegate-Room: {room.id}" if carrier == "header" else ""
        args = ("-d", "4000", *(("-s", room.id) if carrier == "uri" else ()))
        run = await sipp(
            "call",
            sip_backend(phone).port,
            tmp_path,
            replace={"AUDIO": str(audio), "HEADERS": headers},
            args=args,
        )
        timeline = await phone.kit.get_timeline(room.id)
        rooms = await phone.kit.store.list_rooms()
    assert run.returncode == 0, run
    assert [event.content.body for event in timeline] == [SAID, SAID]  # type: ignore[union-attr]
    assert len(rooms) == 1

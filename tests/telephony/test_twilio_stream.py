"""The Twilio backend on real sockets with fake speech models: webhook, auth, limits, bad input."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from websockets.asyncio.client import connect

from tests.telephony.conftest import PhoneGateway, phone_gateway
from voicegate.bench.twilio_client import TwilioMediaStreamClient, stream_of
from voicegate.core.models import EventType
from voicegate.telephony.twilio.auth import (
    TwilioSignatureAuth,
    TwilioTokenAuth,
    twilio_signature,
)
from voicegate.telephony.twilio.backend import TwilioVoiceBackend
from voicegate.telephony.twilio.twiml import TwiMLEndpoint
from voicegate.testing import ScriptedSTT, ToneTTS
from voicegate.voice.auth import AuthCallback
from voicegate.voice.tokens import TokenAuth

AUTH_TOKEN = "twilio-account-auth-token"
TOKENS = TokenAuth(b"telephony-tests-secret-0123456789", ttl=60)
CALLER = "+15551234567"


@asynccontextmanager
async def twilio_gateway(
    auth: AuthCallback | None = None, *, max_sessions: int = 32, start_timeout: float = 10.0
) -> AsyncIterator[PhoneGateway]:
    backend = TwilioVoiceBackend(
        auth or TwilioTokenAuth(TOKENS), start_timeout=start_timeout, mark_timeout=1.0
    )
    webhook = TwiMLEndpoint(TOKENS, signature=TwilioSignatureAuth(AUTH_TOKEN))
    async with phone_gateway(
        ScriptedSTT([]), ToneTTS(), [backend], endpoints=[webhook], max_sessions=max_sessions
    ) as phone:
        yield phone


def stream_to(phone: PhoneGateway, parameters: dict[str, str]) -> TwilioMediaStreamClient:
    """A Media Stream to ``phone``'s ``/twilio/stream`` with ``parameters`` as its
    ``<Parameter>`` values."""
    return TwilioMediaStreamClient(phone.url("/twilio/stream", "ws"), custom_parameters=parameters)


def post_form(url: str, fields: dict[str, str], signature: str | None) -> tuple[int, str, str]:
    """POST a form as Twilio's webhook does; returns status, content type and body."""
    body = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in fields.items()).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


async def webhook(phone: PhoneGateway, query: str = "", sign: bool = True) -> tuple[int, str, str]:
    url = phone.url("/twilio/voice" + query)
    fields = {"CallSid": "CA42", "AccountSid": "AC42", "From": CALLER, "To": "+15550000000"}
    signature = twilio_signature(AUTH_TOKEN, url, fields.items()) if sign else None
    return await asyncio.to_thread(post_form, url, fields, signature)


async def test_the_signed_webhook_answers_twiml_whose_stream_opens_a_session() -> None:
    async with twilio_gateway() as phone:
        room = await phone.kit.create_room()
        status, content_type, twiml = await webhook(phone, f"?room_id={room.id}")
        url, parameters = stream_of(twiml)
        expected_url = phone.url("/twilio/stream", "ws")
        async with TwilioMediaStreamClient(url, custom_parameters=parameters) as call:
            await call.press("7")
            await call.wait_until(lambda: call.record.marks_echoed)  # the answer to the key
            timeline = await phone.kit.get_timeline(room.id)
        metrics = phone.metrics.render().decode()

    assert (status, content_type) == (200, "text/xml; charset=utf-8")
    assert url == expected_url
    assert set(parameters) == {"token", "room_id"}
    assert TOKENS.verify(parameters["token"])["subject"] == CALLER  # type: ignore[index]
    press, answer = timeline
    assert (press.type, press.content.body) == (EventType.DTMF, "7")  # type: ignore[union-attr]
    assert press.source.participant_id == CALLER
    assert press.metadata["dtmf"]["source"] == "twilio"
    assert answer.content.body == "You pressed 7."  # type: ignore[union-attr]
    assert [name for _, name in call.record.marks_echoed] == [answer.id]
    assert 'voicegate_sessions_total{transport="twilio"} 1.0' in metrics


@pytest.mark.parametrize("sign", [False, True])
async def test_a_webhook_without_twilios_signature_is_refused(sign: bool) -> None:
    async with twilio_gateway() as phone:
        url = phone.url("/twilio/voice")
        fields = {"CallSid": "CA42", "From": CALLER}
        signature = twilio_signature("another-token", url, fields.items()) if sign else None
        status, _, body = await asyncio.to_thread(post_form, url, fields, signature)
    assert status == 403
    assert json.loads(body)["error"] == "forbidden"


async def test_an_unsigned_webhook_is_refused_when_no_auth_token_is_configured() -> None:
    backend = TwilioVoiceBackend(TwilioTokenAuth(TOKENS))
    async with phone_gateway(
        ScriptedSTT([]), ToneTTS(), [backend], endpoints=[TwiMLEndpoint(TOKENS)]
    ) as phone:
        status, _, body = await webhook(phone, sign=False)
    assert status == 403
    assert "auth token" in json.loads(body)["message"]


@pytest.mark.parametrize(
    "parameters",
    [{}, {"token": "forged.token"}, {"token": TOKENS.issue(CALLER, ttl=-1)}],
    ids=["none", "forged", "expired"],
)
async def test_a_stream_without_a_valid_token_is_closed_with_4401(
    parameters: dict[str, str],
) -> None:
    async with twilio_gateway() as phone:
        call = stream_to(phone, parameters)
        async with call:
            await call.wait_closed()
        rooms = await phone.kit.store.list_rooms()
        metrics = phone.metrics.render().decode()
    assert (call.close_code, call.close_reason) == (4401, "unauthorized")
    assert rooms == []
    assert 'voicegate_errors_total{kind="auth"} 1.0' in metrics


async def test_the_signature_callback_accepts_twilios_upgrade_and_refuses_a_forged_one() -> None:
    async with twilio_gateway(TwilioSignatureAuth(AUTH_TOKEN)) as phone:
        url = phone.url("/twilio/stream", "ws")
        async with TwilioMediaStreamClient(url, auth_token=AUTH_TOKEN) as signed:
            await signed.press("1")
            await signed.wait_until(lambda: signed.record.marks_echoed)
        async with TwilioMediaStreamClient(url, auth_token="not-the-token") as forged:
            await forged.wait_closed()
        sessions = phone.metrics.render().decode()
    assert signed.close_code is not None  # closed when it hung up, not before
    assert (forged.close_code, forged.close_reason) == (4401, "unauthorized")
    assert 'voicegate_sessions_total{transport="twilio"} 1.0' in sessions


@pytest.mark.parametrize(
    ("granted", "closed"),
    [([], (4403, "room_forbidden")), (["no-such-room"], (4404, "room_not_found"))],
    ids=["not-granted", "granted"],
)
async def test_a_stream_for_a_room_not_granted_is_closed_with_4403_and_a_missing_one_4404(
    granted: list[str], closed: tuple[int, str]
) -> None:
    async with twilio_gateway() as phone:
        parameters = {"token": TOKENS.issue(CALLER, rooms=granted), "room_id": "no-such-room"}
        call = stream_to(phone, parameters)
        async with call:
            await call.wait_closed()
    assert (call.close_code, call.close_reason) == closed


async def test_streams_beyond_max_sessions_are_closed_with_1013() -> None:
    async with twilio_gateway(max_sessions=1) as phone:
        first = stream_to(phone, {"token": TOKENS.issue("a")})
        second = stream_to(phone, {"token": TOKENS.issue("b")})
        async with first:
            await first.press("1")
            await first.wait_until(lambda: first.record.marks_echoed)  # its session is up
            async with second:
                await second.wait_closed()
    assert (second.close_code, second.close_reason) == (1013, "server_busy")


@pytest.mark.parametrize(
    ("opening", "code", "reason"),
    [
        ([b"\x01\x02"], 4400, "expected_text"),
        (
            [
                json.dumps(
                    {
                        "event": "start",
                        "streamSid": "MZ1",
                        "start": {
                            "streamSid": "MZ1",
                            "mediaFormat": {
                                "encoding": "audio/l16",
                                "sampleRate": 16000,
                                "channels": 1,
                            },
                        },
                    }
                )
            ],
            4400,
            "unsupported_media_format",
        ),
        (['{"event": "connected", "protocol": "Call", "version": "1.0.0"}'], 4408, "start_timeout"),
        (["not json"] * 20, 4400, "too_many_errors"),
    ],
    ids=["binary", "format", "no-start", "garbage"],
)
async def test_a_stream_that_breaks_the_protocol_before_start_is_closed(
    opening: list[str | bytes], code: int, reason: str
) -> None:
    async with twilio_gateway(start_timeout=0.5) as phone:
        async with connect(phone.url("/twilio/stream", "ws")) as socket:
            for message in opening:
                await socket.send(message)
            await socket.wait_closed()
        metrics = phone.metrics.render().decode()
    assert (socket.close_code, socket.close_reason) == (code, reason)
    assert 'voicegate_errors_total{kind="protocol"} 1.0' in metrics


async def test_bad_messages_during_a_call_are_skipped_and_the_call_goes_on() -> None:
    async with twilio_gateway() as phone:
        async with stream_to(phone, {"token": TOKENS.issue(CALLER)}) as call:
            for bad in (
                "not json",
                '{"event": "wiggle"}',
                '{"event": "dtmf", "dtmf": {"digit": "x"}}',
            ):
                await call.send_raw(bad)
            await call.press("2")
            await call.wait_until(lambda: call.record.marks_echoed)
        assert call.record.marks_echoed


async def test_closing_the_gateway_ends_open_streams_with_1001() -> None:
    async with (
        twilio_gateway() as phone,
        stream_to(phone, {"token": TOKENS.issue(CALLER)}) as call,
    ):
        await call.press("3")
        await call.wait_until(lambda: call.record.marks_echoed)
        await phone.gateway.close()
        await call.wait_closed()
    assert (call.close_code, call.close_reason) == (1001, "server_shutting_down")

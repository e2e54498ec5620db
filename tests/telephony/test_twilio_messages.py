"""The Media Streams protocol, Sans-I/O, on the messages of Twilio's documentation."""

from __future__ import annotations

import base64
import json

import pytest

from voicegate.telephony.twilio.auth import (
    TwilioSignatureAuth,
    TwilioStreamRequest,
    request_url,
    twilio_signature,
)
from voicegate.telephony.twilio.messages import (
    MAX_ERRORS,
    DigitPressed,
    MarkPlayed,
    MediaReceived,
    StreamConnected,
    StreamStarted,
    StreamStopped,
    TwilioStream,
)
from voicegate.voice.http import CaseInsensitiveHeaders, HttpRequest

SID = "MZ18ad3ab5a668481ce02b83e7395059f0"
START = {
    "event": "start",
    "sequenceNumber": "1",
    "start": {
        "accountSid": "AC123",
        "streamSid": SID,
        "callSid": "CA123",
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"FirstName": "Jane", "room_id": "r1"},
    },
    "streamSid": SID,
}


def started() -> TwilioStream:
    stream = TwilioStream()
    stream.receive(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
    stream.receive(json.dumps(START))
    return stream


def test_twilio_messages_become_events() -> None:
    stream = TwilioStream()
    connected = stream.receive('{"event": "connected", "protocol": "Call", "version": "1.0.0"}')
    start = stream.receive(json.dumps(START))
    payload = bytes(range(160))
    media = {"track": "inbound", "chunk": "2", "timestamp": "40"}
    media["payload"] = base64.b64encode(payload).decode()
    events = [
        {"event": "media", "sequenceNumber": "3", "media": media, "streamSid": SID},
        {"event": "dtmf", "streamSid": SID, "dtmf": {"track": "inbound_track", "digit": "1"}},
        {"event": "mark", "streamSid": SID, "mark": {"name": "answer-1"}},
        {"event": "stop", "streamSid": SID, "stop": {"accountSid": "AC123", "callSid": "CA123"}},
    ]
    received = [stream.receive(json.dumps(event)) for event in events]

    assert connected == [StreamConnected("Call", "1.0.0")]
    assert start == [
        StreamStarted(
            SID,
            "AC123",
            "CA123",
            ("inbound",),
            "audio/x-mulaw",
            8000,
            1,
            {"FirstName": "Jane", "room_id": "r1"},
        )
    ]
    assert received == [
        [MediaReceived(payload, 2, 40)],
        [DigitPressed("1")],
        [MarkPlayed("answer-1")],
        [StreamStopped()],
    ]
    assert stream.stopped
    assert stream.receive(json.dumps(events[0])) == []  # nothing after stop


def test_outgoing_media_mark_and_clear_are_twilio_messages() -> None:
    stream = started()
    stream.send_media(b"\xff\x7f")
    stream.send_mark("e1")
    stream.send_clear()
    assert [json.loads(m) for m in stream.data_to_send()] == [
        {"event": "media", "streamSid": SID, "media": {"payload": "/38="}},
        {"event": "mark", "streamSid": SID, "mark": {"name": "e1"}},
        {"event": "clear", "streamSid": SID},
    ]
    assert stream.data_to_send() == []


@pytest.mark.parametrize(
    "message",
    [
        "not json",
        "[1, 2]",
        '{"event": 5}',
        '{"event": "wiggle", "streamSid": "' + SID + '"}',
        '{"event": "media", "streamSid": "' + SID + '", "media": {"payload": "@@@"}}',
        '{"event": "media", "streamSid": "MZother", "media": {"payload": ""}}',
        '{"event": "mark", "streamSid": "' + SID + '", "mark": {}}',
        '{"event": "dtmf", "streamSid": "' + SID + '"}',
    ],
)
def test_a_bad_message_is_skipped_and_counted(message: str) -> None:
    stream = started()
    assert stream.receive(message) == []
    assert (stream.errors, stream.close_code) == (1, None)


def test_media_before_start_and_too_many_errors_close() -> None:
    stream = TwilioStream()
    media = json.dumps({"event": "media", "streamSid": SID, "media": {"payload": ""}})
    for _ in range(MAX_ERRORS - 1):
        assert stream.receive(media) == []
    assert stream.close_code is None
    stream.receive(media)
    assert (stream.close_code, stream.close_reason) == (4400, "too_many_errors")


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        (b"\x00\x01", 4400, "expected_text"),
        ("x" * 70000, 1009, "message_too_big"),
        (
            json.dumps(
                {
                    **START,
                    "start": {
                        **START["start"],
                        "mediaFormat": {  # type: ignore[dict-item]
                            "encoding": "audio/l16",
                            "sampleRate": 16000,
                            "channels": 1,
                        },
                    },
                }
            ),
            4400,
            "unsupported_media_format",
        ),
    ],
)
def test_fatal_input_closes_the_stream(message: str | bytes, code: int, reason: str) -> None:
    stream = TwilioStream()
    assert stream.receive(message) == []
    assert (stream.close_code, stream.close_reason) == (code, reason)


def test_the_signature_is_twilios_documented_example() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


async def test_signature_auth_checks_the_upgrade_url_with_a_public_url() -> None:
    auth = TwilioSignatureAuth("secret-token", public_url="https://voice.example.com")
    url = "wss://voice.example.com/twilio/stream"
    signed = CaseInsensitiveHeaders([("X-Twilio-Signature", twilio_signature("secret-token", url))])
    request = HttpRequest("GET", "/twilio/stream", headers=signed)
    start = started().start
    assert start is not None
    assert request_url(request, "https://voice.example.com", websocket=True) == url
    accepted = await auth(TwilioStreamRequest(request, start))
    sids = {"call_sid": "CA123", "account_sid": "AC123"}
    assert accepted == {"subject": "CA123", "twilio": sids, "rooms": "*"}
    forged = HttpRequest(
        "GET", "/twilio/stream", headers=CaseInsensitiveHeaders([("X-Twilio-Signature", "AAAA")])
    )
    assert await auth(TwilioStreamRequest(forged, start)) is None
    assert await auth(TwilioStreamRequest(HttpRequest("GET", "/twilio/stream"), start)) is None

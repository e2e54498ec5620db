"""The Sans-I/O voice protocol: every message, every state and every error path."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from voicegate.core.models import ChannelType, EventSource, RoomEvent, TextContent
from voicegate.server.adapters import StarletteMessageSocket
from voicegate.server.embedded import EmbeddedServer
from voicegate.voice.client_messages import AudioIn, Bye, Interrupt, ProtocolError
from voicegate.voice.endpoint import SocketClosedError
from voicegate.voice.event_json import event_to_json, json_safe
from voicegate.voice.hello import Hello
from voicegate.voice.protocol import (
    CLOSE_MESSAGES,
    GOING_AWAY,
    CloseCode,
    State,
    VoiceProtocol,
)
from voicegate.voice.session import EndOfTurn, InterruptionStrategy

HELLO = {"type": "hello", "sample_rate": 16000, "channels": 1, "format": "pcm16", "room_id": None}


def _hello(**changes: Any) -> str:
    return json.dumps({**HELLO, **changes})


def _sent(protocol: VoiceProtocol) -> list[Any]:
    """Outgoing messages, JSON decoded (audio stays bytes)."""
    return [m if isinstance(m, bytes) else json.loads(m) for m in protocol.data_to_send()]


def _open(**options: Any) -> VoiceProtocol:
    protocol = VoiceProtocol(**options)
    protocol.receive_text(_hello())
    return protocol


def _ready(**options: Any) -> VoiceProtocol:
    protocol = _open(**options)
    protocol.accept("s1", "r1", 16000, 24000, 20)
    protocol.data_to_send()
    return protocol


def _assert_fatal(protocol: VoiceProtocol, events: list[Any], code: str, close: int) -> None:
    assert events == [ProtocolError(code, events[0].message, fatal=True)]
    assert protocol.state is State.CLOSING
    assert protocol.close_code == close
    assert protocol.close_reason == code
    [error] = _sent(protocol)
    assert error == {"type": "error", "code": code, "message": events[0].message, "fatal": True}


def _assert_recoverable(protocol: VoiceProtocol, events: list[Any], code: str) -> None:
    assert events == [ProtocolError(code, events[0].message, fatal=False)]
    assert protocol.state is State.OPEN
    assert protocol.close_code is None
    [error] = _sent(protocol)
    assert error == {"type": "error", "code": code, "message": events[0].message, "fatal": False}


def test_hello_opens_and_accept_sends_ready() -> None:
    protocol = VoiceProtocol()
    assert protocol.state is State.AWAITING_HELLO
    events = protocol.receive_text(_hello(room_id="lobby"))
    assert events == [Hello(sample_rate=16000, channels=1, room_id="lobby")]
    assert protocol.state is State.OPEN
    assert protocol.data_to_send() == []
    protocol.accept("s1", "lobby", 16000, 24000, 20, settings={"end_of_turn": "semantic"})
    assert _sent(protocol) == [
        {
            "type": "ready",
            "session_id": "s1",
            "room_id": "lobby",
            "input_sample_rate": 16000,
            "output_sample_rate": 24000,
            "format": "pcm16",
            "channels": 1,
            "frame_ms": 20,
            "max_frame_bytes": 32768,
            "settings": {"end_of_turn": "semantic"},
            "recording": False,
        }
    ]
    assert protocol.data_to_send() == []


def test_hello_defaults_and_extra_fields() -> None:
    protocol = VoiceProtocol()
    events = protocol.receive_text('{"type":"hello","sample_rate":48000,"client":"web/1.0"}')
    assert events == [Hello(sample_rate=48000, channels=1, room_id=None)]


def test_audio_interrupt_and_bye() -> None:
    protocol = _ready()
    assert protocol.receive_binary(b"\x01\x00\x02\x00") == [AudioIn(b"\x01\x00\x02\x00")]
    assert protocol.receive_binary(b"") == []
    assert protocol.receive_text('{"type":"interrupt"}') == [Interrupt()]
    assert protocol.receive_text('{"type":"bye"}') == [Bye()]
    assert protocol.state is State.CLOSING
    assert (protocol.close_code, protocol.close_reason) == (CloseCode.NORMAL, "bye")
    assert protocol.data_to_send() == []


def test_stereo_frames_must_hold_whole_frames() -> None:
    protocol = VoiceProtocol(supported_channels=(1, 2))
    assert protocol.receive_text(_hello(channels=2)) == [
        Hello(sample_rate=16000, channels=2, room_id=None)
    ]
    assert protocol.receive_binary(bytes(8)) == [AudioIn(bytes(8))]
    events = protocol.receive_binary(bytes(6))
    _assert_fatal(protocol, events, "partial_sample", CloseCode.INVALID_PAYLOAD)


def test_a_whole_turn_in_order() -> None:
    protocol = _ready()
    event = RoomEvent(
        room_id="r1",
        source=EventSource(channel_id="voice", channel_type=ChannelType.VOICE),
        content=TextContent(body="hello there"),
        id="e1",
    )
    protocol.speech_start(1.0)
    protocol.partial_transcript("hello")
    protocol.speech_end(2.5, 1.5)
    protocol.final_transcript("hello there", "e1", "en")
    protocol.room_event(event)
    protocol.tts_start("hello there", "e2")
    protocol.tts_audio(b"\x00\x01" * 240)
    protocol.tts_end("e2")
    protocol.turn_metrics({"stt_ms": 120.5})
    sent = _sent(protocol)
    assert [m if isinstance(m, bytes) else m["type"] for m in sent] == [
        "speech_start",
        "partial_transcript",
        "speech_end",
        "final_transcript",
        "room_event",
        "tts_start",
        b"\x00\x01" * 240,
        "tts_end",
        "turn_metrics",
    ]
    assert sent[0] == {"type": "speech_start", "at": 1.0}
    assert sent[2] == {"type": "speech_end", "at": 2.5, "duration": 1.5}
    assert sent[3] == {
        "type": "final_transcript",
        "text": "hello there",
        "event_id": "e1",
        "language": "en",
    }
    assert sent[4]["event"]["content"] == {"body": "hello there", "language": None, "type": "text"}
    assert sent[7] == {"type": "tts_end", "event_id": "e2", "interrupted": False}
    assert sent[8] == {"type": "turn_metrics", "metrics": {"stt_ms": 120.5}}


def test_barge_in_and_interrupted_end() -> None:
    protocol = _ready()
    protocol.barge_in("speaking", "confirmed", 120.0, "")
    protocol.barge_in("thinking", "semantic", 312.34, "wait, stop")
    protocol.tts_end("e2", interrupted=True)
    assert _sent(protocol) == [
        {"type": "barge_in", "during": "speaking", "strategy": "confirmed", "speech_ms": 120.0,
         "text": ""},
        {"type": "barge_in", "during": "thinking", "strategy": "semantic", "speech_ms": 312.3,
         "text": "wait, stop"},
        {"type": "tts_end", "event_id": "e2", "interrupted": True},
    ]  # fmt: skip


def test_turn_state_and_ignored_speech() -> None:
    protocol = _ready()
    protocol.turn_state("thinking")
    protocol.speech_ignored("acknowledgement", "Uh-huh.")
    assert _sent(protocol) == [
        {"type": "turn_state", "state": "thinking"},
        {"type": "speech_ignored", "reason": "acknowledgement", "text": "Uh-huh."},
    ]


def test_hello_chooses_session_settings() -> None:
    protocol = VoiceProtocol()
    hello = (
        '{"type":"hello","sample_rate":16000,"end_of_turn":"fixed","turn_threshold":0.7,'
        '"interruption_speaking":"confirmed","barge_in_ms":300,"echo_cancellation":false}'
    )
    (event,) = protocol.receive_text(hello)
    assert isinstance(event, Hello)
    assert event.settings == {
        "end_of_turn": EndOfTurn.FIXED,
        "turn_threshold": 0.7,
        "interruption_speaking": InterruptionStrategy.CONFIRMED,
        "barge_in_ms": 300,
        "echo_cancellation": False,
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ('"end_of_turn":"sometimes"', "end_of_turn must be one of fixed, semantic"),
        ('"interruption_thinking":1', "interruption_thinking must be one of immediate"),
        ('"max_silence_ms":50', "max_silence_ms must be an integer from 200 to 10000"),
        ('"max_silence_ms":900.5', "max_silence_ms must be an integer from 200 to 10000"),
        ('"turn_threshold":"high"', "turn_threshold must be a number from 0 to 1"),
        ('"echo_cancellation":"yes"', "echo_cancellation must be true or false"),
        ('"vad":null', "vad must be one of webrtc, silero"),
    ],
)
def test_a_bad_session_setting_is_a_bad_hello(fields: str, expected: str) -> None:
    protocol = VoiceProtocol()
    (event,) = protocol.receive_text(f'{{"type":"hello","sample_rate":16000,{fields}}}')
    assert isinstance(event, ProtocolError)
    assert (event.code, event.fatal) == ("bad_hello", True)
    assert expected in event.message
    assert protocol.close_code == CloseCode.PROTOCOL_VIOLATION


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ('{"type":"interrupt"}', "expected_hello"),
        ("not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"no_type": 1}', "invalid_message"),
        ('{"type": 7}', "invalid_message"),
        (_hello(sample_rate="16000"), "bad_hello"),
        (_hello(sample_rate=True), "bad_hello"),
        (_hello(channels=1.0), "bad_hello"),
        (_hello(format=16), "bad_hello"),
        (_hello(room_id=5), "bad_hello"),
        (_hello(record="yes"), "bad_hello"),
        (_hello(language=5), "bad_hello"),
        (_hello(language="French"), "bad_hello"),
        (_hello(language="f1"), "bad_hello"),
        (_hello(sample_rate=44100), "unsupported_sample_rate"),
        (_hello(channels=2), "unsupported_channels"),
        (_hello(format="opus"), "unsupported_format"),
        ('{"type":"hello"}', "bad_hello"),
        ("[" * 4000 + "]" * 4000, "invalid_json"),  # Python's parser: RecursionError
        ('{"type":"hello","sample_rate":' + "1" * 5000 + "}", "invalid_json"),  # ValueError
    ],
)
def test_any_error_before_hello_is_fatal(message: str, code: str) -> None:
    protocol = VoiceProtocol()
    events = protocol.receive_text(message)
    _assert_fatal(protocol, events, code, CloseCode.PROTOCOL_VIOLATION)
    assert protocol.hello is None


@pytest.mark.parametrize(("language", "expected"), [(None, None), ("auto", "auto"), ("fr", "fr")])
def test_hello_may_choose_the_callers_language(language: str | None, expected: str | None) -> None:
    protocol = VoiceProtocol()
    [hello] = protocol.receive_text(_hello(language=language))
    assert isinstance(hello, Hello)
    assert hello.language == expected
    assert protocol.state is State.OPEN


def test_audio_before_hello_is_fatal() -> None:
    protocol = VoiceProtocol()
    events = protocol.receive_binary(bytes(640))
    _assert_fatal(protocol, events, "expected_hello", CloseCode.PROTOCOL_VIOLATION)


def test_error_messages_are_precise() -> None:
    protocol = VoiceProtocol()
    [event] = protocol.receive_text(_hello(sample_rate=44100))
    assert isinstance(event, ProtocolError)
    assert event.message == "sample_rate 44100 is not one of 8000, 16000, 24000, 48000"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{oops", "invalid_json"),
        ('{"type":"interrupt","x":' + "[" * 33 + "]" * 33 + "}", "invalid_json"),
        ('{"type":"interrupt","n":' + "9" * 5000 + "}", "invalid_json"),
        ('"just a string"', "invalid_message"),
        ('{"type":"dance"}', "unknown_type"),
        (_hello(), "duplicate_hello"),
    ],
)
def test_control_errors_once_open_are_recoverable(message: str, code: str) -> None:
    protocol = _ready()
    _assert_recoverable(protocol, protocol.receive_text(message), code)
    assert protocol.receive_binary(bytes(4)) == [AudioIn(bytes(4))]


def test_too_many_recoverable_errors_close() -> None:
    protocol = _ready(max_errors=3)
    for _ in range(3):
        _assert_recoverable(protocol, protocol.receive_text("{"), "invalid_json")
    events = protocol.receive_text("{")
    _assert_fatal(protocol, events, "invalid_json", CloseCode.PROTOCOL_VIOLATION)
    assert "too many protocol errors: 4" in events[0].message


def test_odd_byte_count_is_fatal() -> None:
    protocol = _ready()
    events = protocol.receive_binary(bytes(641))
    _assert_fatal(protocol, events, "partial_sample", CloseCode.INVALID_PAYLOAD)
    assert "641 bytes" in events[0].message


def test_frame_over_limit_is_fatal() -> None:
    protocol = _ready(max_frame_bytes=640)
    assert protocol.receive_binary(bytes(640)) == [AudioIn(bytes(640))]
    events = protocol.receive_binary(bytes(642))
    _assert_fatal(protocol, events, "frame_too_big", CloseCode.MESSAGE_TOO_BIG)


def test_text_over_limit_is_fatal() -> None:
    protocol = _ready(max_text_bytes=120)
    events = protocol.receive_text(json.dumps({"type": "interrupt", "pad": "x" * 120}))
    _assert_fatal(protocol, events, "message_too_big", CloseCode.MESSAGE_TOO_BIG)


def test_hello_timeout() -> None:
    protocol = VoiceProtocol()
    protocol.hello_timed_out(5.0)
    assert protocol.close_code == CloseCode.HELLO_TIMEOUT
    assert _sent(protocol)[0]["message"] == 'no "hello" within 5 s'
    opened = _open()
    opened.hello_timed_out(5.0)
    assert opened.close_code is None
    assert opened.state is State.OPEN


def test_every_close_of_an_established_session_but_1000_is_preceded_by_an_error() -> None:
    for code, reason in [
        (CloseCode.GOING_AWAY, GOING_AWAY),
        (CloseCode.TRY_AGAIN_LATER, "server_busy"),
        (CloseCode.ROOM_NOT_FOUND, "room_not_found"),
        (CloseCode.IDLE_TIMEOUT, "idle_timeout"),
    ]:
        protocol = _open()  # a hello, no ready yet: 1013 and 4404 come then
        protocol.close(code, reason)
        assert _sent(protocol) == [
            {"type": "error", "code": reason, "message": CLOSE_MESSAGES[reason], "fatal": True}
        ]
        assert (protocol.close_code, protocol.close_reason) == (code, reason)
    normal = _ready()
    normal.close(CloseCode.NORMAL, "session ended")
    assert normal.data_to_send() == []


def test_messages_after_close_are_discarded() -> None:
    protocol = _ready()
    protocol.close(CloseCode.GOING_AWAY, GOING_AWAY)
    protocol.data_to_send()  # the error that precedes the close
    assert protocol.receive_text('{"type":"interrupt"}') == []
    assert protocol.receive_text("garbage") == []
    assert protocol.receive_binary(bytes(3)) == []
    protocol.speech_start(1.0)
    protocol.tts_audio(bytes(4))
    protocol.error("late", "too late")
    protocol.close(CloseCode.INTERNAL_ERROR, "again")
    assert protocol.data_to_send() == []
    assert (protocol.close_code, protocol.close_reason) == (1001, "server_shutting_down")
    protocol.connection_closed()
    assert protocol.state is State.CLOSED
    assert protocol.receive_binary(bytes(2)) == []


def test_connection_closed_drops_unsent_messages() -> None:
    protocol = _ready()
    protocol.speech_start(0.5)
    protocol.connection_closed()
    assert protocol.data_to_send() == []
    protocol.partial_transcript("ignored")
    assert protocol.data_to_send() == []


def test_server_side_misuse_raises() -> None:
    fresh = VoiceProtocol()
    with pytest.raises(RuntimeError, match="needs a fresh hello"):
        fresh.accept("s", "r", 16000, 16000, 20)
    opened = _open()
    with pytest.raises(RuntimeError, match="accept\\(\\) first"):
        opened.speech_start(0.0)
    ready = _ready()
    with pytest.raises(RuntimeError, match="needs a fresh hello"):
        ready.accept("s", "r", 16000, 16000, 20)
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        ready.tts_audio(b"\x00")


def test_server_error_and_close_for_internal_failure() -> None:
    protocol = _ready()
    protocol.close(CloseCode.INTERNAL_ERROR, "internal_error", "the session failed")
    assert _sent(protocol) == [
        {"type": "error", "code": "internal_error", "message": "the session failed", "fatal": True}
    ]
    long = _ready()
    long.close(CloseCode.INTERNAL_ERROR, "é" * 100)
    assert len(long.close_reason.encode()) <= 123


def test_event_to_json_is_json_safe() -> None:
    created = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    event = RoomEvent(
        room_id="r1",
        source=EventSource("voice-1", ChannelType.VOICE, participant_id="p1"),
        content=TextContent(body="hi"),
        id="e9",
        index=3,
        metadata={"at": created, "pair": (1, 2), "obj": object.__name__, "nested": {"k": {1, 2}}},
        created_at=created,
        response_id="answer-1",
    )
    encoded = event_to_json(event)
    assert json.loads(json.dumps(encoded)) == encoded
    assert encoded["source"] == {
        "channel_id": "voice-1",
        "channel_type": "voice",
        "participant_id": "p1",
        "provider": None,
    }
    assert encoded["created_at"] == "2024-05-01T12:00:00+00:00"
    assert encoded["metadata"]["at"] == "2024-05-01T12:00:00+00:00"
    assert encoded["metadata"]["pair"] == [1, 2]
    assert isinstance(encoded["metadata"]["nested"]["k"], str)
    assert (encoded["index"], encoded["type"], encoded["status"]) == (3, "message", "pending")
    assert encoded["response_id"] == "answer-1"
    assert json_safe({1: None}) == {"1": None}


async def _echo_session(websocket: WebSocket) -> None:
    """A minimal transport around the protocol: audio in is echoed back as answer audio."""
    socket = StarletteMessageSocket(websocket)
    await socket.accept()
    protocol = VoiceProtocol()
    while protocol.close_code is None:
        try:
            message = await socket.receive()
        except SocketClosedError:
            break
        for event in protocol.receive(message):
            if isinstance(event, Hello):
                protocol.accept("s1", event.room_id or "r1", event.sample_rate, 16000, 20)
            elif isinstance(event, AudioIn):
                protocol.tts_audio(event.pcm)
        for outgoing in protocol.data_to_send():
            await socket.send(outgoing)
        if protocol.close_code is not None:
            await socket.close(protocol.close_code, protocol.close_reason)
    protocol.connection_closed()


async def test_protocol_over_a_real_websocket() -> None:
    app = Starlette(routes=[WebSocketRoute("/ws", _echo_session)])
    async with EmbeddedServer(app, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/ws"
        async with connect(url) as ws:
            await ws.send(_hello(room_id="lobby"))
            ready = json.loads(await ws.recv())
            assert (ready["type"], ready["room_id"]) == ("ready", "lobby")
            await ws.send(b"\x01\x02" * 320)
            assert await ws.recv() == b"\x01\x02" * 320
            await ws.send('{"type":"dance"}')
            assert json.loads(await ws.recv())["code"] == "unknown_type"
            await ws.send(bytes(3))
            assert json.loads(await ws.recv())["code"] == "partial_sample"
            with pytest.raises(ConnectionClosedError) as raised:
                await ws.recv()
        assert raised.value.rcvd is not None
        assert raised.value.rcvd.code == CloseCode.INVALID_PAYLOAD
        async with connect(url) as ws:
            await ws.send(_hello(sample_rate=44100))
            assert json.loads(await ws.recv())["code"] == "unsupported_sample_rate"
            with pytest.raises(ConnectionClosedError) as raised:
                await ws.recv()
        assert raised.value.rcvd is not None
        assert (raised.value.rcvd.code, raised.value.rcvd.reason) == (
            4400,
            "unsupported_sample_rate",
        )

"""Version 2 of the voice protocol, Sans-I/O: what it adds, and version 1 left as it was."""

from __future__ import annotations

from typing import Any

import pytest

from tests.voice.test_protocol import _assert_fatal, _assert_recoverable, _hello, _sent
from voicegate.core.models import ChannelType, EventSource, RoomEvent, TextContent
from voicegate.voice.client_messages import BAD_MESSAGE, Played
from voicegate.voice.heard import Heard
from voicegate.voice.hello import PROTOCOL_VERSIONS, Hello
from voicegate.voice.protocol import CloseCode, VoiceProtocol


def _v2() -> VoiceProtocol:
    """A version 2 connection past its ``ready``."""
    protocol = VoiceProtocol()
    protocol.receive_text(_hello(protocol=2))
    protocol.accept("s1", "r1", 16000, 24000, 20)
    protocol.data_to_send()
    return protocol


def test_a_hello_asks_for_its_version_and_ready_names_it_from_version_2_on() -> None:
    for version in PROTOCOL_VERSIONS:
        protocol = VoiceProtocol()
        [hello] = protocol.receive_text(_hello(protocol=version))
        assert hello == Hello(16000, 1, None, protocol=version)
        assert protocol.version == version
        protocol.accept("s1", "r1", 16000, 24000, 20)
        [ready] = _sent(protocol)
        assert ready.get("protocol") == (version if version > 1 else None)
    v1 = VoiceProtocol()
    [hello] = v1.receive_text(_hello())  # no protocol field: version 1
    assert hello.protocol == 1
    assert v1.version == 1


@pytest.mark.parametrize(
    ("version", "code"),
    [
        (3, "unsupported_protocol"),
        (0, "unsupported_protocol"),
        ("2", "bad_hello"),
        (True, "bad_hello"),
    ],
)
def test_a_version_the_server_does_not_speak_is_refused_with_4400(
    version: object, code: str
) -> None:
    protocol = VoiceProtocol()
    events = protocol.receive_text(_hello(protocol=version))
    _assert_fatal(protocol, events, code, CloseCode.PROTOCOL_VIOLATION)
    assert protocol.hello is None


def _v1() -> VoiceProtocol:
    protocol = VoiceProtocol()
    protocol.receive_text(_hello())
    protocol.accept("s1", "r1", 16000, 24000, 20)
    protocol.data_to_send()
    return protocol


def _tag_a_turn(protocol: VoiceProtocol) -> list[Any]:
    event = RoomEvent(
        room_id="r1", source=EventSource("echo", ChannelType.AI), content=TextContent("hi")
    )
    protocol.final_transcript("hello", "e1", "en", "t1")
    protocol.room_event(event, "t1")
    protocol.tts_start("hi", "e2", "a1", "t1")
    protocol.tts_audio(b"\x00\x00")
    protocol.tts_end("e2", True, "a1", "t1", Heard(120, "hi"))
    return _sent(protocol)


def test_version_2_tags_answers_and_turns_and_version_1_is_unchanged() -> None:
    v1 = _tag_a_turn(_v1())
    assert v1[0] == {
        "type": "final_transcript",
        "text": "hello",
        "event_id": "e1",
        "language": "en",
    }
    assert set(v1[1]) == {"type", "event"}
    assert v1[2] == {"type": "tts_start", "text": "hi", "event_id": "e2"}
    assert v1[4] == {"type": "tts_end", "event_id": "e2", "interrupted": True}
    v2 = _tag_a_turn(_v2())
    assert v2[0]["turn_id"] == v2[1]["turn_id"] == "t1"
    assert v2[2] == {
        "type": "tts_start",
        "text": "hi",
        "event_id": "e2",
        "response_id": "a1",
        "turn_id": "t1",
    }
    assert v2[3] == b"\x00\x00"  # audio between tts_start and tts_end belongs to its response
    assert v2[4] == {
        "type": "tts_end",
        "event_id": "e2",
        "interrupted": True,
        "response_id": "a1",
        "turn_id": "t1",
        "heard": {"text": "hi", "interrupted_at_ms": 120},
    }


def test_played_marks_are_version_2_messages_checked_field_by_field() -> None:
    assert _v2().receive_text('{"type":"played","response_id":"a1","ms":250}') == [
        Played("a1", 250)
    ]
    v1 = _v1()
    _assert_recoverable(
        v1, v1.receive_text('{"type":"played","response_id":"a1","ms":250}'), "unknown_type"
    )
    for bad in (
        '{"type":"played","ms":250}',
        '{"type":"played","response_id":"a1","ms":-1}',
        '{"type":"played","response_id":"a1","ms":2.5}',
        '{"type":"played","response_id":"","ms":1}',
    ):
        protocol = _v2()
        _assert_recoverable(protocol, protocol.receive_text(bad), BAD_MESSAGE)

"""Version 2 of the voice protocol, Sans-I/O: what it adds, and version 1 left as it was."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from tests.voice.test_protocol import _assert_fatal, _assert_recoverable, _hello, _sent
from voicegate.audio.g711 import ULAW
from voicegate.core.models import ChannelType, EventSource, RoomEvent, TextContent
from voicegate.voice.client_messages import (
    BAD_MESSAGE,
    MAX_TYPED_CHARS,
    Commit,
    Played,
    PostText,
    Say,
    SessionUpdate,
)
from voicegate.voice.heard import Heard
from voicegate.voice.hello import PROTOCOL_VERSIONS, Hello
from voicegate.voice.live_settings import LiveSettings
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


def test_say_and_text_carry_typed_words_in_version_2() -> None:
    protocol = _v2()
    assert protocol.receive_text('{"type":"say","text":" Turn it off. "}') == [Say("Turn it off.")]
    assert protocol.receive_text('{"type":"text","text":"brb"}') == [PostText("brb")]
    for bad in (
        '{"type":"say"}',
        '{"type":"say","text":"  "}',
        '{"type":"text","text":7}',
        json.dumps({"type": "say", "text": "x" * (MAX_TYPED_CHARS + 1)}),
    ):
        _assert_recoverable(protocol, protocol.receive_text(bad), BAD_MESSAGE)
    v1 = _v1()
    _assert_recoverable(v1, v1.receive_text('{"type":"say","text":"hi"}'), "unknown_type")


def test_session_update_and_commit_are_checked_version_2_messages() -> None:
    protocol = _v2()
    update = {"type": "session.update", "session": {"turn_detection": "manual", "barge_in_ms": 0}}
    assert protocol.receive_text(json.dumps(update)) == [
        SessionUpdate({"turn_detection": "manual", "barge_in_ms": 0})
    ]
    assert protocol.receive_text('{"type":"session.update","session":{}}') == [SessionUpdate({})]
    assert protocol.receive_text('{"type":"commit"}') == [Commit()]
    for session in (
        None,
        [],
        {"turn_detection": "push"},
        {"end_of_speech_ms": 59},
        {"barge_in_ms": 5001},
        {"interruptions": 1},
        {"language": "fr"},
    ):
        bad = json.dumps({"type": "session.update", "session": session})
        _assert_recoverable(protocol, protocol.receive_text(bad), BAD_MESSAGE)
    settings = LiveSettings(300, 120, "manual", interruptions=False)
    protocol.session_updated(settings.as_dict())
    assert _sent(protocol) == [
        {
            "type": "session.updated",
            "session": {
                "end_of_speech_ms": 300,
                "barge_in_ms": 120,
                "turn_detection": "manual",
                "interruptions": False,
            },
        }
    ]
    v1 = _v1()
    _assert_recoverable(v1, v1.receive_text('{"type":"commit"}'), "unknown_type")


def test_version_2_chooses_the_answers_rate_and_format_and_version_1_ignores_the_fields() -> None:
    asked = {"protocol": 2, "output_sample_rate": 8000, "output_format": "mulaw"}
    protocol = VoiceProtocol()
    [hello] = protocol.receive_text(_hello(**asked))
    assert (hello.output_sample_rate, hello.output_format) == (8000, "mulaw")
    protocol.accept("s1", "r1", 16000, 8000, 20)
    [ready] = _sent(protocol)
    assert (ready["output_sample_rate"], ready["output_format"]) == (8000, "mulaw")
    pcm = (np.sin(np.arange(160) / 5) * 8000).astype(np.int16)
    protocol.tts_audio(pcm.tobytes())
    [sent] = _sent(protocol)
    assert len(sent) == 160  # a byte a sample
    assert np.abs(ULAW.decode(sent).astype(int) - pcm).max() < 300  # mu-law's own step
    [v1_hello] = VoiceProtocol().receive_text(_hello(output_sample_rate=7, output_format="x"))
    assert (v1_hello.output_sample_rate, v1_hello.output_format) == (None, "pcm16")
    for bad, code in (
        ({"output_sample_rate": 44100}, "unsupported_sample_rate"),
        ({"output_sample_rate": "8000"}, "unsupported_sample_rate"),
        ({"output_format": "opus"}, "unsupported_format"),
    ):
        refused = VoiceProtocol()
        events = refused.receive_text(_hello(protocol=2, **bad))
        _assert_fatal(refused, events, code, CloseCode.PROTOCOL_VIOLATION)

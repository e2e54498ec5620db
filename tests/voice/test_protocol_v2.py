"""Version 2 of the voice protocol, Sans-I/O: what it adds, and version 1 left as it was."""

from __future__ import annotations

import pytest

from tests.voice.test_protocol import _assert_fatal, _hello, _sent
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

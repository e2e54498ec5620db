"""The WebSocket voice protocol as a Sans-I/O state machine (no sockets, no asyncio).

The transport feeds what it receives to :meth:`VoiceProtocol.receive_text` and
:meth:`VoiceProtocol.receive_binary` and gets typed events back; it calls the
outgoing methods (``accept``, ``speech_start``, ``tts_audio``...) and sends whatever
:meth:`VoiceProtocol.data_to_send` returns; when :attr:`VoiceProtocol.close_code` is
set it closes the connection with that code and :attr:`VoiceProtocol.close_reason`.
``docs/protocol.md`` describes every message and close code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from enum import Enum, IntEnum
from typing import Any

import numpy as np

from voicegate.audio.g711 import ULAW
from voicegate.core.models import RoomEvent
from voicegate.voice.client_messages import (
    BAD_MESSAGE,
    AudioIn,
    Bye,
    Interrupt,
    ProtocolError,
    ProtocolEvent,
    read_version_2,
)
from voicegate.voice.event_json import event_to_json
from voicegate.voice.heard import Heard
from voicegate.voice.hello import MULAW, SAMPLE_FORMAT, Hello, HelloRefused, read_hello
from voicegate.voice.json_input import InvalidJSONError, parse_client_json
from voicegate.voice.session import SESSION_SETTINGS, session_setting

UNSUPPORTED_LANGUAGE = "unsupported_language"
"""Why a session is refused whose language the recogniser does not know (close 4400)."""


class State(Enum):
    """Where a connection stands."""

    AWAITING_HELLO = "awaiting_hello"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class CloseCode(IntEnum):
    """WebSocket close codes the voice protocol uses."""

    NORMAL = 1000
    GOING_AWAY = 1001
    INVALID_PAYLOAD = 1007
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013
    PROTOCOL_VIOLATION = 4400
    UNAUTHORIZED = 4401
    ROOM_FORBIDDEN = 4403
    ROOM_NOT_FOUND = 4404
    HELLO_TIMEOUT = 4408
    IDLE_TIMEOUT = 4410
    TOO_SLOW = 4429


_CLOSE_REASON_BYTES = 123

GOING_AWAY = "server_shutting_down"
"""The close reason (code 1001) of a session the server ends because it stops."""

CLOSE_MESSAGES = {
    GOING_AWAY: "the server is shutting down",
    "server_busy": "the server has no room for another session now; try again later",
    "overloaded": "the recogniser is at capacity; try again later",
    "store_unavailable": "the server cannot store the room's events now; try again later",
    "room_not_found": "the room does not exist or is closed",
    "room_forbidden": "this connection may not join that room",
    "idle_timeout": "neither you nor an answer made a sound for the idle timeout",
    "too_slow": "you do not read what the server sends",
    "internal_error": "the server failed; details are in its log",
    "bad_audio_format": "an audio frame was not in the format of your hello",
    UNSUPPORTED_LANGUAGE: "the recogniser does not know the language of your hello",
}
"""The ``error`` message sent before a close, by close reason (``docs/protocol.md``)."""


class VoiceProtocol:
    """One voice connection's protocol state; see the module docstring for how to drive it."""

    def __init__(
        self,
        *,
        max_frame_bytes: int = 32768,
        max_text_bytes: int = 8192,
        supported_rates: Sequence[int] = (8000, 16000, 24000, 48000),
        supported_channels: Sequence[int] = (1,),
        max_errors: int = 20,
    ) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.max_text_bytes = max_text_bytes
        self.supported_rates = tuple(supported_rates)
        self.supported_channels = tuple(supported_channels)
        self.max_errors = max_errors
        self.state = State.AWAITING_HELLO
        self.hello: Hello | None = None
        self.accepted = False
        self.close_code: int | None = None
        self.close_reason = ""
        self._outgoing: list[str | bytes] = []
        self._errors = 0

    @property
    def version(self) -> int:
        """The protocol version the ``hello`` asked for (1 until then)."""
        return self.hello.protocol if self.hello is not None else 1

    def receive(self, message: str | bytes) -> list[ProtocolEvent]:
        """A WebSocket message: text is JSON control, bytes are audio."""
        if isinstance(message, str):
            return self.receive_text(message)
        return self.receive_binary(message)

    def receive_text(self, text: str) -> list[ProtocolEvent]:
        """Events from one text (JSON control) message."""
        if self.state in (State.CLOSING, State.CLOSED):
            return []
        if len(text.encode()) > self.max_text_bytes:
            return self._fail(
                "message_too_big",
                f"text message exceeds {self.max_text_bytes} bytes",
                CloseCode.MESSAGE_TOO_BIG,
            )
        try:
            message = parse_client_json(text)
        except InvalidJSONError as exc:
            return self._reject("invalid_json", f"text message is not valid JSON: {exc}")
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            return self._reject(
                "invalid_message", 'a text message must be a JSON object with "type"'
            )
        kind = message["type"]
        if self.state is State.AWAITING_HELLO:
            if kind != "hello":
                return self._reject("expected_hello", f'expected "hello" first, got "{kind}"')
            return self._receive_hello(message)
        if kind == "interrupt":
            return [Interrupt()]
        if kind == "bye":
            self.close(CloseCode.NORMAL, "bye")
            return [Bye()]
        if kind == "hello":
            return self._reject("duplicate_hello", '"hello" was already received')
        read = read_version_2(kind, message) if self.version > 1 else None
        if read is None:
            return self._reject("unknown_type", f'unknown message type "{kind}"')
        if isinstance(read, str):
            return self._reject(BAD_MESSAGE, read)
        return [read]

    def receive_binary(self, data: bytes) -> list[ProtocolEvent]:
        """Events from one binary (audio) message."""
        if self.state in (State.CLOSING, State.CLOSED):
            return []
        if self.hello is None:
            return self._reject("expected_hello", 'audio before "hello"')
        if len(data) > self.max_frame_bytes:
            return self._fail(
                "frame_too_big",
                f"audio frame of {len(data)} bytes exceeds {self.max_frame_bytes} bytes",
                CloseCode.MESSAGE_TOO_BIG,
            )
        sample_bytes = 2 * self.hello.channels
        if len(data) % sample_bytes:
            return self._fail(
                "partial_sample",
                f"audio frame of {len(data)} bytes is not a whole number of "
                f"{sample_bytes}-byte samples",
                CloseCode.INVALID_PAYLOAD,
            )
        if not data:
            return []
        return [AudioIn(data)]

    def data_to_send(self) -> list[str | bytes]:
        """Messages to send, in order (text for JSON, bytes for audio); clears the queue."""
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def connection_closed(self) -> None:
        """The transport is gone: nothing more is received or sent."""
        self.state = State.CLOSED
        self._outgoing.clear()

    def accept(
        self,
        session_id: str,
        room_id: str,
        input_rate: int,
        output_rate: int,
        frame_ms: int,
        *,
        settings: Mapping[str, object] | None = None,
        recording: bool = False,
    ) -> None:
        """Answer the hello with ``ready``: the session id, the rates the server uses, the
        session's settings and whether the call is recorded; from version 2 on, also the
        version spoken."""
        if self.state is not State.OPEN or self.accepted:
            raise RuntimeError(f"accept() needs a fresh hello; state is {self.state.value}")
        self.accepted = True
        version = {"protocol": self.version} if self.version > 1 else {}
        output = self._v2(output_format=self._output_format())
        self._send_json(
            {
                "type": "ready",
                **version,
                "session_id": session_id,
                "room_id": room_id,
                "input_sample_rate": input_rate,
                "output_sample_rate": output_rate,
                "format": SAMPLE_FORMAT,
                "channels": 1,
                "frame_ms": frame_ms,
                "max_frame_bytes": self.max_frame_bytes,
                "settings": dict(settings or {}),
                "recording": recording,
                **output,
            }
        )

    def speech_start(self, at: float) -> None:
        """The caller started speaking (stream time, seconds)."""
        self._send_session({"type": "speech_start", "at": at})

    def speech_end(self, at: float, duration: float) -> None:
        """The caller's utterance ended."""
        self._send_session({"type": "speech_end", "at": at, "duration": duration})

    def partial_transcript(self, text: str) -> None:
        """A transcript of the speech so far."""
        self._send_session({"type": "partial_transcript", "text": text})

    def final_transcript(
        self, text: str, event_id: str | None, language: str | None, turn_id: str | None = None
    ) -> None:
        """The utterance's transcript, the room event it became (``None`` if blocked), the
        language it was heard in and (version 2) its turn."""
        message = {"type": "final_transcript", "text": text, "event_id": event_id}
        self._send_session({**message, "language": language, **self._v2(turn_id=turn_id)})

    def room_event(self, event: RoomEvent, turn_id: str | None = None) -> None:
        """An event of the session's room (version 2: and its turn)."""
        message = {"type": "room_event", "event": event_to_json(event)}
        self._send_session({**message, **self._v2(turn_id=turn_id)})

    def tts_start(
        self, text: str, event_id: str, response_id: str | None = None, turn_id: str | None = None
    ) -> None:
        """An answer starts; its audio follows as binary frames (version 2: the answer's
        response id and turn)."""
        message = {"type": "tts_start", "text": text, "event_id": event_id}
        self._send_session({**message, **self._v2(response_id=response_id, turn_id=turn_id)})

    def tts_audio(self, pcm: bytes) -> None:
        """A frame of answer audio, PCM16 LE mono at the ``ready`` output rate; sent in the
        output format (version 2 may ask for mu-law)."""
        if len(pcm) % 2:
            raise ValueError(f"tts audio of {len(pcm)} bytes is not whole 16-bit samples")
        if self._may_send():
            mulaw = self._output_format() == MULAW
            self._outgoing.append(ULAW.encode(np.frombuffer(pcm, np.int16)) if mulaw else pcm)

    def _output_format(self) -> str:
        return self.hello.output_format if self.hello is not None else SAMPLE_FORMAT

    def tts_end(
        self,
        event_id: str,
        interrupted: bool = False,
        response_id: str | None = None,
        turn_id: str | None = None,
        heard: Heard | None = None,
    ) -> None:
        """The answer's audio is all sent, or was cut short (version 2: its response id and
        turn, and what the caller heard of a cut answer, if the client said)."""
        message = {"type": "tts_end", "event_id": event_id, "interrupted": interrupted}
        tags = self._v2(response_id=response_id, turn_id=turn_id)
        if heard is not None and self.version > 1:
            tags["heard"] = heard.as_dict()
        self._send_session({**message, **tags})

    def turn_state(self, state: str) -> None:
        """Whose turn it is now: ``listening``, ``thinking`` or ``speaking``."""
        self._send_session({"type": "turn_state", "state": state})

    def barge_in(self, during: str, strategy: str, speech_ms: float, text: str) -> None:
        """The caller interrupted the answer: drop the audio you have queued."""
        self._send_session(
            {
                "type": "barge_in",
                "during": during,
                "strategy": strategy,
                "speech_ms": round(speech_ms, 1),
                "text": text,
            }
        )

    def speech_ignored(self, reason: str, text: str) -> None:
        """The caller's speech over an answer was no turn (an acknowledgement, an echo)."""
        self._send_session({"type": "speech_ignored", "reason": reason, "text": text})

    def turn_metrics(self, metrics: dict[str, Any]) -> None:
        """Per-stage latency figures of the last turn (JSON-safe dict)."""
        self._send_session({"type": "turn_metrics", "metrics": metrics})

    def session_updated(self, settings: dict[str, Any]) -> None:
        """Version 2: the settings the client may change, in force now (after its
        ``session.update``)."""
        self._send_session({"type": "session.updated", "session": settings})

    def error(self, code: str, message: str, *, fatal: bool = False) -> None:
        """Tell the client about an error (the connection stays open unless ``close`` follows)."""
        if self.state in (State.CLOSING, State.CLOSED):
            return
        self._send_json({"type": "error", "code": code, "message": message, "fatal": fatal})

    def close(self, code: int, reason: str = "", message: str | None = None) -> None:
        """Ask the transport to close with ``code``; nothing is sent or received after.

        Once the hello was accepted, any close but 1000 is preceded by a fatal ``error``
        whose code is ``reason`` (``message`` by default from :data:`CLOSE_MESSAGES`)."""
        if self.state in (State.CLOSING, State.CLOSED):
            return
        if self.state is State.OPEN and code != CloseCode.NORMAL and reason:
            self.error(reason, message or CLOSE_MESSAGES.get(reason, reason), fatal=True)
        self.state = State.CLOSING
        self.close_code = code
        self.close_reason = reason.encode()[:_CLOSE_REASON_BYTES].decode(errors="ignore")

    def hello_timed_out(self, timeout: float) -> None:
        """The wrapper's hello timer fired before a hello arrived."""
        if self.state is State.AWAITING_HELLO:
            self._fail("hello_timeout", f'no "hello" within {timeout:g} s', CloseCode.HELLO_TIMEOUT)

    def _receive_hello(self, message: dict[str, Any]) -> list[ProtocolEvent]:
        hello = read_hello(message, self.supported_rates, self.supported_channels)
        if isinstance(hello, HelloRefused):
            return self._reject(hello.code, hello.message)
        settings: dict[str, object] = {}
        for name in SESSION_SETTINGS:
            if name in message:
                try:
                    settings[name] = session_setting(name, message[name])
                except ValueError as error:
                    return self._reject("bad_hello", str(error))
        hello = self.hello = replace(hello, settings=settings)
        self.state = State.OPEN
        return [hello]

    def _reject(self, code: str, message: str) -> list[ProtocolEvent]:
        """A recoverable error once open; before the hello, every error is fatal."""
        self._errors += 1
        if self.state is State.AWAITING_HELLO:
            return self._fail(code, message, CloseCode.PROTOCOL_VIOLATION)
        if self._errors > self.max_errors:
            return self._fail(
                code,
                f"{message} (too many protocol errors: {self._errors})",
                CloseCode.PROTOCOL_VIOLATION,
            )
        self.error(code, message)
        return [ProtocolError(code, message, fatal=False)]

    def _fail(self, code: str, message: str, close_code: int) -> list[ProtocolEvent]:
        if self.state is State.AWAITING_HELLO:
            self.error(code, message, fatal=True)
        self.close(close_code, code, message)
        return [ProtocolError(code, message, fatal=True)]

    def _may_send(self) -> bool:
        if self.state in (State.CLOSING, State.CLOSED):
            return False
        if not self.accepted:
            raise RuntimeError("session messages need accept() first")
        return True

    def _v2(self, **fields: object) -> dict[str, object]:
        """``fields`` for a version 2 connection; none for version 1."""
        return fields if self.version > 1 else {}

    def _send_session(self, message: dict[str, Any]) -> None:
        if self._may_send():
            self._send_json(message)

    def _send_json(self, message: dict[str, Any]) -> None:
        self._outgoing.append(json.dumps(message, separators=(",", ":")))

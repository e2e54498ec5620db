"""Twilio Media Streams, Sans-I/O: the JSON messages of a bidirectional stream, both ways.

Twilio sends ``connected``, ``start`` (the stream's ids, media format and custom
parameters), ``media`` (base64 µ-law at 8 kHz), ``dtmf``, ``mark`` (a mark we sent, now
played) and ``stop``. We send ``media``, ``mark`` and ``clear``. :class:`TwilioStream`
turns text frames into typed events and queues the messages to send; it does no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from voicegate.errors import RoomKitError
from voicegate.voice.protocol import CloseCode

logger = logging.getLogger(__name__)

MEDIA_ENCODING = "audio/x-mulaw"
MEDIA_RATE = 8000
MAX_MESSAGE_BYTES = 65536
"""The largest text frame accepted (a 20 ms ``media`` message is about 300 bytes)."""
MAX_ERRORS = 20
"""Bad messages tolerated on one stream; the next one closes it."""


@dataclass(frozen=True, slots=True)
class StreamConnected:
    """The first message of a stream."""

    protocol: str
    version: str


@dataclass(frozen=True, slots=True)
class StreamStarted:
    """The stream's metadata: its ids, tracks, audio format and custom ``<Parameter>``\\ s."""

    stream_sid: str
    account_sid: str
    call_sid: str
    tracks: tuple[str, ...] = ("inbound",)
    encoding: str = MEDIA_ENCODING
    sample_rate: int = MEDIA_RATE
    channels: int = 1
    custom_parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MediaReceived:
    """Caller audio: µ-law bytes, with Twilio's chunk number and timestamp (ms)."""

    payload: bytes
    chunk: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class DigitPressed:
    """The caller pressed a key."""

    digit: str


@dataclass(frozen=True, slots=True)
class MarkPlayed:
    """Twilio played the audio sent before the mark ``name`` (or cleared it)."""

    name: str


@dataclass(frozen=True, slots=True)
class StreamStopped:
    """The stream ended (the call hung up or left the ``<Connect>``)."""


StreamEvent = (
    StreamConnected | StreamStarted | MediaReceived | DigitPressed | MarkPlayed | StreamStopped
)


class StreamError(RoomKitError, ValueError):
    """A message that breaks the protocol; a fatal one (``reason`` set) ends the stream with
    ``close_code``."""

    def __init__(
        self, message: str, close_code: int = CloseCode.PROTOCOL_VIOLATION, reason: str = ""
    ) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.reason = reason


class TwilioStream:
    """One Media Stream's protocol state: what was received, what to send.

    :meth:`receive` returns the events of one frame. A malformed message is logged, counted
    and skipped; the :data:`MAX_ERRORS`-th, an oversized or binary frame, or a ``start``
    in a format other than µ-law 8 kHz mono sets :attr:`close_code` (the stream must end).
    """

    def __init__(self) -> None:
        self.start: StreamStarted | None = None
        self.stopped = False
        self.errors = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self._outgoing: list[str] = []

    def receive(self, message: str | bytes) -> list[StreamEvent]:
        """The events of one WebSocket message (none for a bad one)."""
        if self.close_code is not None or self.stopped:
            return []
        try:
            return [self._parse(message)]
        except StreamError as error:
            self._reject(error)
            return []

    def send_media(self, mulaw: bytes) -> None:
        """Queue µ-law audio for the caller."""
        self._queue("media", media={"payload": base64.b64encode(mulaw).decode("ascii")})

    def send_mark(self, name: str) -> None:
        """Queue a mark: Twilio echoes it once the audio sent before it has played."""
        self._queue("mark", mark={"name": name})

    def send_clear(self) -> None:
        """Queue ``clear``: Twilio drops the audio it holds and echoes the pending marks."""
        self._queue("clear")

    def data_to_send(self) -> list[str]:
        """The messages queued since the last call, in order."""
        outgoing, self._outgoing = self._outgoing, []
        return outgoing

    def close(self, code: int, reason: str) -> None:
        """The stream is ending: nothing more is sent or received."""
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        self._outgoing.clear()

    def _queue(self, event: str, **body: Any) -> None:
        if self.start is None or self.close_code is not None:
            return
        message = {"event": event, "streamSid": self.start.stream_sid, **body}
        self._outgoing.append(json.dumps(message, separators=(",", ":")))

    def _reject(self, error: StreamError) -> None:
        self.errors += 1
        logger.warning("Twilio stream: %s", error)
        if error.reason:
            self.close(error.close_code, error.reason)
        elif self.errors >= MAX_ERRORS:
            self.close(CloseCode.PROTOCOL_VIOLATION, "too_many_errors")

    def _parse(self, message: str | bytes) -> StreamEvent:
        if isinstance(message, bytes):
            raise StreamError("a binary frame: Twilio sends JSON text", reason="expected_text")
        if len(message) > MAX_MESSAGE_BYTES:
            raise StreamError(
                f"a {len(message)}-byte message (limit {MAX_MESSAGE_BYTES})",
                CloseCode.MESSAGE_TOO_BIG,
                "message_too_big",
            )
        try:
            data = json.loads(message)
        except json.JSONDecodeError as exc:
            raise StreamError(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("event"), str):
            raise StreamError("not an object with a string 'event'")
        event = data["event"]
        if event == "connected":
            return StreamConnected(_text(data, "protocol", ""), _text(data, "version", ""))
        if event == "start":
            return self._started(_object(data, "start"))
        if self.start is None:
            raise StreamError(f"'{event}' before 'start'")
        if data.get("streamSid", self.start.stream_sid) != self.start.stream_sid:
            raise StreamError(f"'{event}' of another stream")
        if event == "media":
            return _media(_object(data, "media"))
        if event == "dtmf":
            return DigitPressed(_text(_object(data, "dtmf"), "digit"))
        if event == "mark":
            return MarkPlayed(_text(_object(data, "mark"), "name"))
        if event == "stop":
            self.stopped = True
            return StreamStopped()
        raise StreamError(f"unknown event {event!r}")

    def _started(self, start: dict[str, Any]) -> StreamStarted:
        if self.start is not None:
            raise StreamError("a second 'start'")
        media = _object(start, "mediaFormat")
        parameters = start.get("customParameters") or {}
        tracks = start.get("tracks", ["inbound"])
        if not isinstance(parameters, dict) or not isinstance(tracks, list):
            raise StreamError("'customParameters' must be an object and 'tracks' a list")
        started = StreamStarted(
            stream_sid=_text(start, "streamSid"),
            account_sid=_text(start, "accountSid", ""),
            call_sid=_text(start, "callSid", ""),
            tracks=tuple(str(track) for track in tracks),
            encoding=_text(media, "encoding"),
            sample_rate=_integer(media, "sampleRate"),
            channels=_integer(media, "channels"),
            custom_parameters={str(k): str(v) for k, v in parameters.items()},
        )
        if (started.encoding, started.sample_rate, started.channels) != (
            MEDIA_ENCODING,
            MEDIA_RATE,
            1,
        ):
            raise StreamError(
                f"media format {started.encoding} {started.sample_rate} Hz x {started.channels}"
                f" (voicegate takes {MEDIA_ENCODING} {MEDIA_RATE} Hz mono)",
                reason="unsupported_media_format",
            )
        self.start = started
        return started


def _media(media: dict[str, Any]) -> MediaReceived:
    try:
        payload = base64.b64decode(_text(media, "payload"), validate=True)
    except binascii.Error:
        raise StreamError("'media.payload' is not base64") from None
    return MediaReceived(payload, _integer(media, "chunk", 0), _integer(media, "timestamp", 0))


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise StreamError(f"'{key}' must be an object")
    return value


def _text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise StreamError(f"'{key}' must be a string")
    return value


def _integer(data: dict[str, Any], key: str, default: int | None = None) -> int:
    """An integer field; Twilio writes some (``chunk``, ``timestamp``) as strings."""
    value = data.get(key, default)
    try:
        if isinstance(value, bool) or value is None:
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise StreamError(f"'{key}' must be an integer") from None

"""Twilio's side of a bidirectional Media Stream, written from Twilio's documentation.

It does what Twilio does when a call reaches ``<Connect><Stream>``: opens the WebSocket
(signing the upgrade with ``X-Twilio-Signature`` when given the auth token), sends
``connected`` and ``start`` (with ``customParameters``), then the caller's audio as
``media`` messages, base64 µ-law at 8 kHz in 20 ms chunks, in real time and without a
pause (silence when the caller says nothing), ``dtmf`` when a key is pressed, and
``stop`` when the caller hangs up. What the server sends it plays as Twilio would: the
``media`` in real time; a ``mark`` is echoed once the audio before it has played;
``clear`` drops the audio not yet played and echoes every pending mark at once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.audio.g711 import ULAW
from voicegate.bench.connection import Connection
from voicegate.bench.phone_line import RATE, PhoneLine
from voicegate.bench.websocket_client import PING_TIMEOUT_S


def signature(auth_token: str, signed: str) -> str:
    """``X-Twilio-Signature`` of what Twilio signs: the URL, then the POST parameters'
    names and values sorted by name."""
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def fetch_twiml(url: str, fields: dict[str, str], auth_token: str | None = None) -> str:
    """POST a call's webhook as Twilio does (a form, signed when given the auth token); the
    TwiML it answers. Blocking: run it in a thread."""
    body = urllib.parse.urlencode(fields)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if auth_token is not None:
        signed = url + "".join(name + value for name, value in sorted(fields.items()))
        headers["X-Twilio-Signature"] = signature(auth_token, signed)
    request = urllib.request.Request(url, body.encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        twiml: str = response.read().decode()
        return twiml


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    """The URL and ``<Parameter>``\\ s of the ``<Connect><Stream>`` in ``twiml``."""
    stream = ET.fromstring(twiml).find("./Connect/Stream")
    if stream is None:
        raise ValueError(f"no <Connect><Stream> in {twiml[:200]!r}")
    parameters = {p.attrib["name"]: p.attrib["value"] for p in stream.findall("Parameter")}
    return stream.attrib["url"], parameters


@dataclass
class StreamRecord:
    """What the stream's far end (the server) did, with monotonic times."""

    media: list[tuple[float, bytes]] = field(default_factory=list)
    """Every ``media`` payload received (µ-law), with its arrival time."""
    marks_received: list[tuple[float, str]] = field(default_factory=list)
    marks_echoed: list[tuple[float, str]] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    heard: list[tuple[float, bytes]] = field(default_factory=list)
    """The audio the caller heard: played to the end of its 20 ms, not cleared first."""
    unknown: list[dict[str, Any]] = field(default_factory=list)

    def heard_audio(self, since: float = 0.0, until: float = float("inf")) -> AudioFrame:
        """What the caller heard between ``since`` and ``until``, as 8 kHz samples."""
        codes = b"".join(chunk for at, chunk in self.heard if since <= at <= until)
        return AudioFrame(ULAW.decode(codes), RATE)


class TwilioMediaStreamClient(Connection):
    """One call's Media Stream to ``url`` (``ws://host:port/twilio/stream``); ``async with``.

    ``auth_token`` signs the upgrade request; ``custom_parameters`` are the ``<Parameter>``
    values of the ``<Stream>``.
    """

    def __init__(
        self,
        url: str,
        *,
        custom_parameters: dict[str, str] | None = None,
        auth_token: str | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.custom_parameters = dict(custom_parameters or {})
        self.auth_token = auth_token
        self.open_timeout = open_timeout
        self.account_sid = "AC" + secrets.token_hex(16)
        self.call_sid = "CA" + secrets.token_hex(16)
        self.stream_sid = "MZ" + secrets.token_hex(16)
        self.record = StreamRecord()
        self.changed = asyncio.Event()
        self._connection: ClientConnection | None = None
        self._sequence = 0
        self._chunk = 0
        self._line = PhoneLine()
        self._playback: deque[bytes | str] = deque()  # audio chunks and mark names, in order
        self._audio_queued = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        """Open the stream: the WebSocket, ``connected`` and ``start``, then the phone line."""
        headers = {}
        if self.auth_token is not None:
            headers["X-Twilio-Signature"] = signature(self.auth_token, self.url)
        self._connection = await connect(
            self.url,
            additional_headers=headers,
            open_timeout=self.open_timeout,
            ping_timeout=PING_TIMEOUT_S,
        )
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        start = {
            "accountSid": self.account_sid,
            "streamSid": self.stream_sid,
            "callSid": self.call_sid,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": RATE, "channels": 1},
            "customParameters": self.custom_parameters,
        }
        await self._send({"event": "start", "start": start, "streamSid": self.stream_sid})
        self._tasks = [
            asyncio.create_task(self._read(self._connection), name="twilio-read"),
            asyncio.create_task(self._send_caller_audio(), name="twilio-caller"),
            asyncio.create_task(self._play(), name="twilio-player"),
        ]

    @property
    def close_code(self) -> int | None:
        """The code the server closed the WebSocket with (``None`` while open)."""
        return None if self._connection is None else self._connection.close_code

    @property
    def close_reason(self) -> str:
        """The reason the server gave when it closed."""
        return "" if self._connection is None else self._connection.close_reason or ""

    async def speak(self, audio: AudioFrame) -> float:
        """Send 8 kHz mono ``audio`` as the caller's next words, in real time; returns the
        monotonic time its last chunk was sent."""
        return await self._line.speak(audio)

    async def press(self, digit: str) -> None:
        """The caller presses a key."""
        await self._send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    async def close(self) -> None:
        """The caller hangs up: ``stop``, then the WebSocket closes."""
        if self._connection is None:
            return
        stop = {"accountSid": self.account_sid, "callSid": self.call_sid}
        with contextlib.suppress(ConnectionClosed):
            await self._send({"event": "stop", "stop": stop, "streamSid": self.stream_sid})
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._connection.close()

    async def send_raw(self, message: str | bytes) -> None:
        """Send anything (tests of bad input)."""
        assert self._connection is not None
        await self._connection.send(message)

    async def wait_until(self, done: Any, seconds: float = 30.0) -> None:
        """Return once ``done()`` holds; fail after ``seconds`` or when the stream closed."""
        async with asyncio.timeout(seconds):
            while not done():
                if self.close_code is not None:
                    raise ConnectionError(f"the stream closed with {self.close_code}")
                self.changed.clear()
                await self.changed.wait()

    async def wait_closed(self, seconds: float = 10.0) -> None:
        """Return once the server closed the WebSocket."""
        assert self._connection is not None
        async with asyncio.timeout(seconds):
            await self._connection.wait_closed()

    async def _send(self, message: dict[str, Any]) -> None:
        assert self._connection is not None
        self._sequence += 1
        await self._connection.send(json.dumps({**message, "sequenceNumber": str(self._sequence)}))

    async def _send_caller_audio(self) -> None:
        """A phone line: a 20 ms ``media`` message every 20 ms, silence when nobody speaks."""
        with contextlib.suppress(ConnectionClosed):
            await self._line.run(self._send_media)

    async def _send_media(self, chunk: bytes) -> None:
        media = {
            "track": "inbound",
            "chunk": str(self._chunk + 1),
            "timestamp": str(self._chunk * FRAME_MS),
            "payload": base64.b64encode(chunk).decode(),
        }
        self._chunk += 1
        await self._send({"event": "media", "streamSid": self.stream_sid, "media": media})

    async def _read(self, connection: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in connection:
                now = time.monotonic()
                message = json.loads(text)
                event = message.get("event")
                if event == "media":
                    payload = base64.b64decode(message["media"]["payload"])
                    self.record.media.append((now, payload))
                    self._playback.append(payload)
                elif event == "mark":
                    name = message["mark"]["name"]
                    self.record.marks_received.append((now, name))
                    self._playback.append(name)
                elif event == "clear":
                    self.record.clears.append(now)
                    await self._clear()
                else:
                    self.record.unknown.append(message)
                self._audio_queued.set()
                self.changed.set()
        self.changed.set()

    async def _clear(self) -> None:
        pending = [item for item in self._playback if isinstance(item, str)]
        self._playback.clear()
        for name in pending:
            await self._echo_mark(name)

    async def _play(self) -> None:
        """Play the server's audio in real time; echo each mark when its audio has played.

        Each chunk ends its own duration after the previous one (or after its arrival, when
        the player was idle), so a loop that wakes late does not slow the playback down."""
        played_until = 0.0
        with contextlib.suppress(ConnectionClosed):
            while True:
                if not self._playback:
                    self._audio_queued.clear()
                    await self._audio_queued.wait()
                    continue
                item = self._playback.popleft()
                if isinstance(item, str):
                    await self._echo_mark(item)
                    continue
                clears = len(self.record.clears)
                played_until = max(played_until, time.monotonic()) + len(item) / RATE
                await asyncio.sleep(max(0.0, played_until - time.monotonic()))
                if len(self.record.clears) == clears:  # a clear cuts the chunk it plays
                    self.record.heard.append((time.monotonic(), item))

    async def _echo_mark(self, name: str) -> None:
        self.record.marks_echoed.append((time.monotonic(), name))
        await self._send({"event": "mark", "streamSid": self.stream_sid, "mark": {"name": name}})
        self.changed.set()

"""A WebRTC voice client on aiortc, for end-to-end tests and latency benchmarks.

It does what the call page does: POST an SDP offer to ``/webrtc/offer``, send microphone
audio on its track, open the ``voicegate`` data channel and read the protocol messages
and the answer audio the server sends back. Every message and every answer frame is
kept with its arrival time (``time.monotonic()`` seconds)::

    async with WebRTCVoiceClient("http://127.0.0.1:8765", token=token) as client:
        await client.play(speech)                   # real time, then silence
        final = await asyncio.wait_for(client.wait_for("final_transcript"), 30)
        onset = client.answer_onset(after=client.first_time("speech_end"))
        heard = client.answer_audio(since=onset)    # 48 kHz mono
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import numpy as np
from aiortc import RTCDataChannel, RTCSessionDescription

from voicegate.audio.frame import AudioFrame
from voicegate.bench.connection import Connection
from voicegate.errors import RoomKitError
from voicegate.voice.rtc import PacedAudioTrack, create_peer_connection, read_audio

logger = logging.getLogger(__name__)

DATA_CHANNEL_LABEL = "voicegate"
ANSWER_RATE = 48_000
ANSWER_PRESENT_DBFS = -45.0
"""A 20 ms answer frame louder than this counts as answer audio (Opus silence is far below)."""


class OfferRejectedError(RoomKitError):
    """The server refused the offer; ``status`` and ``error`` are its HTTP status and error slug."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"offer rejected with {status} {error}: {message}")
        self.status = status
        self.error = error
        self.message = message


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A protocol message from the data channel and when it arrived (monotonic seconds)."""

    arrived: float
    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReceivedAudio:
    """A frame of answer audio (48 kHz mono) and when it arrived (monotonic seconds)."""

    arrived: float
    frame: AudioFrame


class WebRTCVoiceClient(Connection):
    """One WebRTC voice session with voicegate at ``base_url``.

    ``base_url`` is where voicegate is served: ``http://host:port``, or with the prefix
    it is mounted at (``http://host:port/voice``); the offer goes to ``offer_path`` below it.

    ``token`` goes in an ``Authorization: Bearer`` header; ``room_id`` asks for a room,
    ``language`` for the language the caller speaks (None: the server's default),
    ``record`` for the call to be recorded, ``protocol`` for the protocol version the data
    channel speaks.
    Entering the context connects and returns once the server's ``ready`` arrived, or
    raises :class:`OfferRejectedError` (HTTP error) or ``TimeoutError`` (after
    ``connect_timeout`` seconds). Leaving it sends ``bye`` and closes the connection.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        room_id: str | None = None,
        *,
        language: str | None = None,
        record: bool = False,
        protocol: int = 1,
        offer_path: str = "/webrtc/offer",
        connect_timeout: float = 10.0,
    ) -> None:
        self.offer_url = f"{base_url.rstrip('/')}/{offer_path.lstrip('/')}"
        self.token = token
        self.room_id = room_id
        self.language = language
        self.record = record
        self.protocol = protocol
        self.connect_timeout = connect_timeout
        self.session_id = ""
        self.messages: list[ReceivedMessage] = []
        self.answer_frames: list[ReceivedAudio] = []
        self._microphone = PacedAudioTrack()
        self._peer = create_peer_connection()
        self._channel: RTCDataChannel | None = None
        self._changed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def ready(self) -> dict[str, Any]:
        """The server's ``ready`` message (session id, room id, rates)."""
        return self.of_type("ready")[0]

    async def open(self) -> None:
        """Offer, answer, connect, and wait for ``ready`` on the data channel; closes
        again if that fails."""
        await self._closing_on_failure(self._connect)

    async def _connect(self) -> None:
        self._peer.addTrack(self._microphone)
        channel = self._peer.createDataChannel(DATA_CHANNEL_LABEL)
        channel.on("message", self._on_message)
        self._channel = channel
        self._peer.on("track", self._on_track)
        await self._peer.setLocalDescription(await self._peer.createOffer())
        body = {
            "sdp": self._peer.localDescription.sdp,
            "type": "offer",
            "room_id": self.room_id,
            "language": self.language,
            "record": self.record,
            "protocol": self.protocol,
        }
        answer = await asyncio.to_thread(self._post_offer, body)
        self.session_id = str(answer["session_id"])
        await self._peer.setRemoteDescription(
            RTCSessionDescription(sdp=answer["sdp"], type=answer["type"])
        )
        async with asyncio.timeout(self.connect_timeout):
            await self.wait_for("ready")

    async def play(self, audio: AudioFrame) -> None:
        """Send ``audio`` (any rate) on the microphone track in real time; return once sent.

        The track sends silence before and after.
        """
        self._microphone.push(audio)
        await self._microphone.drained()

    def send(self, message: dict[str, Any]) -> None:
        """Send a protocol message (``interrupt``, ``bye``) on the data channel."""
        if self._channel is None or self._channel.readyState != "open":
            raise RuntimeError("the data channel is not open")
        self._channel.send(json.dumps(message))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        """The messages of type ``kind`` received so far, in order."""
        return [m.message for m in self.messages if m.message.get("type") == kind]

    def first_time(self, kind: str) -> float:
        """When the first message of type ``kind`` arrived; ``KeyError`` if none did."""
        for received in self.messages:
            if received.message.get("type") == kind:
                return received.arrived
        raise KeyError(f"no {kind!r} message received")

    async def wait_for(self, kind: str, count: int = 1) -> dict[str, Any]:
        """Wait until ``count`` messages of type ``kind`` arrived; return the last of them.

        Waits without a bound: wrap it in ``asyncio.timeout``.
        """
        while len(self.of_type(kind)) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.of_type(kind)[count - 1]

    def answer_onset(
        self, after: float = 0.0, threshold_dbfs: float = ANSWER_PRESENT_DBFS
    ) -> float | None:
        """Arrival time of the first answer frame after ``after`` louder than the threshold."""
        for received in self.answer_frames:
            if received.arrived > after and received.frame.dbfs() > threshold_dbfs:
                return received.arrived
        return None

    def answer_audio(self, since: float = 0.0, until: float = float("inf")) -> AudioFrame:
        """The answer audio (48 kHz mono) that arrived between ``since`` and ``until``."""
        chunks = [
            r.frame.samples.reshape(-1) for r in self.answer_frames if since <= r.arrived <= until
        ]
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return AudioFrame(samples, ANSWER_RATE)

    async def close(self) -> None:
        """Say ``bye`` if the channel is open, then close the connection."""
        if self._channel is not None and self._channel.readyState == "open":
            self._channel.send(json.dumps({"type": "bye"}))
        self._microphone.stop()
        await self._peer.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def _post_offer(self, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.offer_url, json.dumps(body).encode(), headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.connect_timeout) as response:
                answer: dict[str, Any] = json.loads(response.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read())
            except ValueError:
                error = {}
            raise OfferRejectedError(
                exc.code, str(error.get("error", "")), str(error.get("message", exc.reason))
            ) from None

    def _on_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            logger.warning("unexpected binary message of %d bytes on the data channel", len(data))
            return
        self.messages.append(ReceivedMessage(time.monotonic(), json.loads(data)))
        self._changed.set()

    def _on_track(self, track: Any) -> None:
        if track.kind == "audio" and self._reader is None:
            self._reader = asyncio.create_task(self._read_answer(track), name="answer-audio")

    async def _read_answer(self, track: Any) -> None:
        async for frame in read_audio(track, ANSWER_RATE):
            self.answer_frames.append(ReceivedAudio(time.monotonic(), frame))

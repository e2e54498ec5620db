"""One WebRTC voice connection: the media tracks plus the ``voicegate`` data channel.

Audio comes in on the client's track (aiortc decodes Opus to 48 kHz stereo; the
session downmixes it) and goes out on a :class:`PacedAudioTrack`. The protocol's JSON
messages (``docs/protocol.md``) travel on the data channel the client creates, labelled
``voicegate``; they are held until it opens. The data channel has no ``hello``: the
audio format is fixed by WebRTC, so the protocol is opened with a synthetic hello of
48 kHz mono in the protocol version the offer asked for.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.errors import RoomKitError
from voicegate.voice.client_messages import Bye, ClientMessage, ProtocolError
from voicegate.voice.notices import Notice
from voicegate.voice.outbox import MAX_UNSENT_BYTES, TOO_SLOW
from voicegate.voice.playout import PLAY_AHEAD_S
from voicegate.voice.protocol import CloseCode, VoiceProtocol
from voicegate.voice.rtc import PacedAudioTrack, read_audio
from voicegate.voice.rtc.inbound import WEBRTC_SAMPLE_RATE
from voicegate.voice.transport import VoiceTransport
from voicegate.voice.wire import write_notice

logger = logging.getLogger(__name__)

DATA_CHANNEL_LABEL = "voicegate"
_DATA_CHANNEL_HELLO = {"type": "hello", "sample_rate": WEBRTC_SAMPLE_RATE, "channels": 1}


class SessionRefusedError(RoomKitError):
    """The session closed before it opened; ``code`` is the gateway's close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"session refused with {code}: {reason}")
        self.code = code
        self.reason = reason


class WebRTCTransport(VoiceTransport):
    """A voice session's link over one answered :class:`RTCPeerConnection`.

    The session ends when the client says ``bye``, when the connection fails or
    closes, when the inbound track ends, when the connection is not up within
    ``connect_timeout`` seconds of the answer, or when the client leaves more than
    ``MAX_UNSENT_BYTES`` of messages unread on the data channel (``too_slow``).
    """

    kind = "webrtc"

    def __init__(
        self,
        connection: RTCPeerConnection,
        inbound: MediaStreamTrack,
        outbound: PacedAudioTrack,
        connect_timeout: float,
        version: int = 1,
    ) -> None:
        self._connection = connection
        self._inbound = inbound
        self._outbound = outbound
        self._protocol = VoiceProtocol()
        self._protocol.receive_text(json.dumps({**_DATA_CHANNEL_HELLO, "protocol": version}))
        self._channel: RTCDataChannel | None = None
        self._inbox: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self._opening: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._connect_timer = asyncio.get_running_loop().call_later(
            connect_timeout, self._connect_timed_out
        )
        connection.on("datachannel", self._on_datachannel)
        connection.on("connectionstatechange", self._on_connection_state)

    @property
    def input_rate(self) -> int:
        """48 kHz: what aiortc decodes Opus to."""
        return WEBRTC_SAMPLE_RATE

    @property
    def input_channels(self) -> int:
        """Mono: the transport downmixes aiortc's stereo frames."""
        return 1

    @property
    def output_rate(self) -> int:
        """48 kHz, the paced track's rate."""
        return WEBRTC_SAMPLE_RATE

    async def wait_opened(self) -> str:
        """The session id once the gateway opened the session.

        Raises :class:`SessionRefusedError` if the transport closed first.
        """
        session_id = await asyncio.shield(self._opening)
        if session_id is None:
            raise SessionRefusedError(self._protocol.close_code or 0, self._protocol.close_reason)
        return session_id

    async def opened(self, session_id: str, room_id: str) -> None:
        """Queue ``ready`` for the data channel; hand the session id to :meth:`wait_opened`."""
        self._protocol.accept(
            session_id,
            room_id,
            self.input_rate,
            self.output_rate,
            FRAME_MS,
            settings=self.session_settings,
            recording=self.recording,
        )
        self._outbound.on_played = self.played_handler
        self._send_pending()
        if not self._opening.done():
            self._opening.set_result(session_id)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """The client's audio as 48 kHz mono frames until the session ends."""
        pump = asyncio.create_task(self._pump(), name="webrtc-inbound")
        try:
            while (frame := await self._inbox.get()) is not None:
                yield frame
        finally:
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)

    async def play(self, frame: AudioFrame) -> None:
        """Queue answer audio on the paced track, once at most ``PLAY_AHEAD_S`` are queued."""
        await self._outbound.wait_room(PLAY_AHEAD_S)
        self._outbound.push(frame)

    def flush(self) -> None:
        """Drop the answer audio queued on the track (barge-in)."""
        self._outbound.flush()

    async def wait_played(self) -> None:
        """Wait until the track has played or dropped everything queued."""
        await self._outbound.drained()

    async def notify(self, notice: Notice) -> None:
        """Send ``notice`` as its protocol message on the data channel."""
        write_notice(self._protocol, notice)
        self._send_pending()

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """End the session and close the peer connection.

        A data channel has no close code: any ending but a normal one is first told to
        the client as a fatal ``error`` whose ``code`` is ``reason`` (best effort).
        """
        self._protocol.close(code, reason or ("" if code == CloseCode.NORMAL else "closed"))
        self._send_pending()
        if not self._opening.done():
            self._opening.set_result(None)
        self._end()
        self._outbound.stop()
        await self._connection.close()

    async def _pump(self) -> None:
        try:
            async for frame in read_audio(self._inbound, WEBRTC_SAMPLE_RATE):
                self._inbox.put_nowait(frame)
        finally:
            self._end()

    def _end(self) -> None:
        """Make :meth:`frames` stop after what it already received."""
        self._connect_timer.cancel()
        self._inbox.put_nowait(None)

    def _send_pending(self) -> None:
        channel = self._channel
        if channel is None or channel.readyState != "open":
            return
        for message in self._protocol.data_to_send():
            channel.send(message)
        if channel.bufferedAmount > MAX_UNSENT_BYTES:  # the client does not read: it ends
            logger.warning("the client leaves %d bytes unread: closing", channel.bufferedAmount)
            self._protocol.close(CloseCode.TOO_SLOW, TOO_SLOW)
            self._end()

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != DATA_CHANNEL_LABEL or self._channel is not None:
            logger.info("ignoring data channel %r", channel.label)
            return
        self._channel = channel
        channel.on("message", self._on_message)
        self._send_pending()

    async def _on_message(self, message: str | bytes) -> None:
        if isinstance(message, bytes):
            self._protocol.error(
                "unexpected_binary", "the data channel carries JSON text; audio goes on the track"
            )
            self._send_pending()
            return
        for event in self._protocol.receive_text(message):
            if isinstance(event, Bye):
                self._end()
            elif isinstance(event, ClientMessage) and self.message_handler is not None:
                await self.message_handler(event)
            elif isinstance(event, ProtocolError):
                logger.info("data channel client error %s", event)
        self._send_pending()
        if self._protocol.close_code is not None:
            self._end()

    def _on_connection_state(self) -> None:
        state = self._connection.connectionState
        if state == "connected":
            self._connect_timer.cancel()
        elif state in ("failed", "closed"):
            # closed is how a call ends (the caller hung up): the gateway's call line says so
            level = logging.INFO if state == "failed" else logging.DEBUG
            logger.log(level, "peer connection %s: ending the session", state)
            self._end()

    def _connect_timed_out(self) -> None:
        if self._connection.connectionState != "connected":
            logger.info("peer connection not up in time: ending the session")
            self._end()

"""Voice over a WebSocket: the Sans-I/O voice protocol around a :class:`MessageSocket`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.voice.auth import AuthCallback, authenticate
from voicegate.voice.backend import SessionRequest
from voicegate.voice.client_messages import AudioIn, Bye, ClientMessage, ProtocolError
from voicegate.voice.endpoint import MessageSocket, SocketClosedError
from voicegate.voice.hello import Hello
from voicegate.voice.http import HttpRequest
from voicegate.voice.inbound import STREAM_STALL_MS
from voicegate.voice.notices import Notice
from voicegate.voice.outbox import SEND_TIMEOUT_S, TOO_SLOW, SocketWriter
from voicegate.voice.playout import PlayoutBuffer
from voicegate.voice.protocol import CloseCode, VoiceProtocol
from voicegate.voice.socket_backend import SocketVoiceBackend
from voicegate.voice.transport import VoiceTransport
from voicegate.voice.wire import write_notice

logger = logging.getLogger(__name__)

SUBPROTOCOL_PREFIX = "voicegate."
"""The first offered subprotocol starting with this is accepted and echoed (browsers need it)."""
INBOX_MESSAGES = 32
"""The client's messages read off the socket ahead of the session (0.64 s of 20 ms frames);
beyond them, reading waits, and the server's TCP window slows the client down."""


class WebSocketTransport(VoiceTransport):
    """One WebSocket voice connection after its ``hello``.

    Outbound audio is paced in real time, at most ``lead`` seconds ahead of the
    client's playback, so a flush on barge-in silences the client within ``lead``
    (the client also drops its own queue when told ``barge_in``). Every message goes
    out through the protocol in the order it was written, sent by a
    :class:`SocketWriter`: nothing else waits on the network, and a client that does not
    read what it is sent is closed with 4429 ``too_slow``, which ends its session.
    """

    kind = "websocket"
    stall_ms = STREAM_STALL_MS

    def __init__(
        self,
        socket: MessageSocket,
        protocol: VoiceProtocol,
        hello: Hello,
        output_rate: int,
        lead: float,
        send_timeout: float = SEND_TIMEOUT_S,
    ) -> None:
        self._socket = socket
        self._protocol = protocol
        self._hello = hello
        self._output_rate = output_rate
        self._lead = lead
        self._playout = PlayoutBuffer(output_rate)
        self._writer = SocketWriter(socket, self._too_slow, send_timeout=send_timeout)
        self._ended = asyncio.Event()
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue(INBOX_MESSAGES)
        self._pacer: asyncio.Task[None] | None = None
        self._played_until = 0.0
        self._to_play: deque[asyncio.TimerHandle] = deque()  # played_handler calls, in order
        self._session_id = ""

    @property
    def input_rate(self) -> int:
        """The rate the client announced in its hello."""
        return self._hello.sample_rate

    @property
    def input_channels(self) -> int:
        """The channel count the client announced."""
        return self._hello.channels

    @property
    def output_rate(self) -> int:
        """The rate of the answer audio sent to the client."""
        return self._output_rate

    async def opened(self, session_id: str, room_id: str) -> None:
        """Send ``ready`` and start pacing answer audio."""
        self._session_id = session_id
        self._protocol.accept(
            session_id,
            room_id,
            self.input_rate,
            self._output_rate,
            FRAME_MS,
            settings=self.session_settings,
            recording=self.recording,
        )
        self._send()
        self._pacer = asyncio.create_task(self._pace(), name=f"ws-pacer-{session_id}")

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """The client's audio; the messages the session acts on go to its message handler.

        A reader task takes the client's messages off the socket as they come; what it has
        read is handled here without waiting for the event loop between messages, so a busy
        loop never leaves audio unread (audio that waits unread looks like a client that
        stopped sending, and is replaced by silence: see :mod:`voicegate.voice.inbound`).
        """
        reader = asyncio.create_task(self._read(), name=f"ws-reader-{self._session_id}")
        try:
            while not self._ended.is_set() and (message := await self._inbox.get()) is not None:
                for event in self._protocol.receive(message):
                    if isinstance(event, AudioIn):
                        yield self._frame(event.pcm)
                    elif isinstance(event, Bye):
                        self._protocol.close(CloseCode.NORMAL, "bye")
                    elif isinstance(event, ClientMessage) and self.message_handler is not None:
                        await self.message_handler(event)
                    elif isinstance(event, ProtocolError):
                        logger.info("websocket client error %s", event)
                self._send()
                if self._protocol.close_code is not None:
                    return
        finally:
            reader.cancel()

    async def _read(self) -> None:
        """Move the client's messages into the inbox (at most ``INBOX_MESSAGES`` ahead of
        :meth:`frames`); None when the socket has closed."""
        try:
            while True:
                await self._inbox.put(await self._socket.receive())
        except SocketClosedError as closed:
            logger.info("session %s: %s", self._session_id, closed)
            await self._inbox.put(None)
        except Exception:  # not a close: the session ends rather than wait for audio forever
            logger.exception("session %s: reading the WebSocket failed", self._session_id)
            self._end_input()

    def _end_input(self) -> None:
        """Make :meth:`frames` return: the session is ending."""
        self._ended.set()
        with contextlib.suppress(asyncio.QueueFull):  # a full inbox: frames() sees _ended
            self._inbox.put_nowait(None)

    async def play(self, frame: AudioFrame) -> None:
        """Queue answer audio for the pacer, once at most ``PLAY_AHEAD_S`` are queued."""
        await self._playout.wait_room()
        self._playout.push(frame.samples.reshape(-1))

    def flush(self) -> None:
        """Drop queued answer audio; what the client holds is at most ``lead`` seconds."""
        self._playout.flush()
        self._played_until = 0.0
        for handle in self._to_play:
            handle.cancel()
        self._to_play.clear()

    async def wait_played(self) -> None:
        """Wait until the queue is sent and the client has played it (estimated)."""
        await self._playout.wait_drained()
        remaining = self._played_until - asyncio.get_running_loop().time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def notify(self, notice: Notice) -> None:
        """Queue ``notice`` as its protocol message (never waits on the network)."""
        write_notice(self._protocol, notice)
        self._send()

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Close the connection with ``code`` once what is queued is sent."""
        self._protocol.close(code, reason)
        self._send()
        self._end_input()
        if self._pacer is not None:
            self._pacer.cancel()
            await asyncio.gather(self._pacer, return_exceptions=True)
        await self._writer.close(self._protocol.close_code or code, self._protocol.close_reason)

    def _frame(self, pcm: bytes) -> AudioFrame:
        return AudioFrame.from_bytes(pcm, self._hello.sample_rate, self._hello.channels)

    def _send(self) -> None:
        self._writer.write(self._protocol.data_to_send())

    def _too_slow(self) -> None:
        """The client does not read: the session ends (the writer closes the socket)."""
        self._protocol.close(CloseCode.TOO_SLOW, TOO_SLOW)
        self._protocol.data_to_send()  # nothing more reaches a client that does not read
        self._end_input()

    def _played(self, frame: AudioFrame) -> None:
        self._to_play.popleft()  # this call: they fire in the order they were scheduled
        if self.played_handler is not None:
            self.played_handler(frame)

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        frame_samples = self._output_rate * FRAME_MS // 1000
        while True:
            chunk = self._playout.pull(frame_samples)
            if chunk is None:
                await self._playout.wait_audio()
                continue
            now = loop.time()
            starts = max(self._played_until, now)
            self._played_until = starts + FRAME_MS / 1000.0
            if self.played_handler is not None:
                frame = AudioFrame(chunk, self._output_rate)
                self._to_play.append(loop.call_at(starts, self._played, frame))
            self._protocol.tts_audio(chunk.tobytes())
            self._send()
            await self._writer.drained()  # a client that reads slowly gets audio no faster
            ahead = self._played_until - loop.time() - self._lead
            if ahead > 0:
                await asyncio.sleep(ahead)


class WebSocketVoiceBackend(SocketVoiceBackend[WebSocketTransport]):
    """Voice sessions over WebSockets at ``path``.

    A :class:`~voicegate.voice.endpoint.WebSocketEndpoint`: the server hosting voicegate
    (``voicegate.server.asgi.create_voice_app``) hands it every upgrade request on its
    path. Each connection is authenticated on that request; the upgrade answers the first
    offered ``voicegate.`` subprotocol, and a rejected connection is then closed with 4401
    before it can send anything. The client has ``hello_timeout`` seconds to send its
    ``hello`` (see ``docs/protocol.md``).
    """

    name = "websocket"

    def __init__(
        self,
        auth: AuthCallback | None = None,
        *,
        allow_anonymous: bool = False,
        output_rate: int = 24000,
        hello_timeout: float = 10.0,
        playout_lead: float = 0.1,
        path: str = "/ws",
    ) -> None:
        super().__init__(path)
        self._auth = auth
        self._allow_anonymous = allow_anonymous
        self._output_rate = output_rate
        self._hello_timeout = hello_timeout
        self._lead = playout_lead

    async def serve_socket(self, request: HttpRequest, socket: MessageSocket) -> None:
        """Authenticate the upgrade ``request``, accept ``socket`` and run its session."""
        outcome = await authenticate(self._auth, request, allow_anonymous=self._allow_anonymous)
        await socket.accept(_voicegate_subprotocol(request))
        if not outcome.accepted:
            self.session_handler.record_error("auth")
            await socket.close(CloseCode.UNAUTHORIZED, outcome.reason)
            return
        await self.serve_registered(socket, lambda: self._serve_session(socket, outcome.metadata))

    async def _serve_session(self, socket: MessageSocket, metadata: dict[str, Any]) -> None:
        protocol = VoiceProtocol()
        hello = await self._await_hello(socket, protocol)
        if hello is None:
            return
        await self.run_in_reserved_slot(
            socket,
            lambda: WebSocketTransport(
                socket, protocol, hello, hello.output_sample_rate or self._output_rate, self._lead
            ),
            SessionRequest(
                metadata,
                hello.room_id,
                settings=hello.settings,
                language=hello.language,
                record=hello.record,
            ),
            metadata,
            refuse=lambda reason: _refuse(socket, protocol, reason),
        )

    async def _await_hello(self, socket: MessageSocket, protocol: VoiceProtocol) -> Hello | None:
        """Read until the hello; ``None`` if the connection ended or was refused."""
        hello: Hello | None = None
        try:
            async with asyncio.timeout(self._hello_timeout):
                while hello is None and protocol.close_code is None:
                    for event in protocol.receive(await socket.receive()):
                        if isinstance(event, Hello):
                            hello = event
                        elif isinstance(event, ProtocolError):
                            logger.info("websocket refused before its hello: %s", event)
        except TimeoutError:
            protocol.hello_timed_out(self._hello_timeout)
            logger.info("websocket refused: no hello within %g s", self._hello_timeout)
        except SocketClosedError:
            return None
        if hello is None or protocol.close_code is not None:
            self.session_handler.record_error("protocol")
            await _refuse(socket, protocol)
            return None
        return hello


async def _refuse(socket: MessageSocket, protocol: VoiceProtocol, reason: str = "") -> None:
    """Close ``protocol`` with 1013 and ``reason`` if given; send what it has to say (its
    ``error``), then close the socket."""
    if reason:
        protocol.close(CloseCode.TRY_AGAIN_LATER, reason)
    with contextlib.suppress(SocketClosedError):
        for data in protocol.data_to_send():
            await socket.send(data)
    await socket.close(protocol.close_code or CloseCode.PROTOCOL_VIOLATION, protocol.close_reason)


def _voicegate_subprotocol(request: HttpRequest) -> str | None:
    """The first subprotocol the client offered that starts with ``voicegate.``."""
    offered = (p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(","))
    return next((p for p in offered if p.startswith(SUBPROTOCOL_PREFIX)), None)

"""Voice over a WebSocket: the Sans-I/O voice protocol around a ``websockets`` connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.server.http import FrontDoor
from voicegate.server.messages import HttpRequest
from voicegate.voice.auth import AuthCallback, authenticate, run_with_auth_context
from voicegate.voice.backend import SessionRequest, VoiceBackend
from voicegate.voice.notices import Notice
from voicegate.voice.playout import PlayoutBuffer
from voicegate.voice.protocol import AudioIn, Bye, CloseCode, Hello, Interrupt, VoiceProtocol
from voicegate.voice.transport import VoiceTransport
from voicegate.voice.wire import write_notice

logger = logging.getLogger(__name__)


class WebSocketTransport(VoiceTransport):
    """One WebSocket voice connection after its ``hello``.

    Outbound audio is paced in real time, at most ``lead`` seconds ahead of the
    client's playback, so a flush on barge-in silences the client within ``lead``
    (the client also drops its own queue when told ``barge_in``). Every message goes
    out through the protocol in the order it was written.
    """

    kind = "websocket"

    def __init__(
        self,
        connection: ServerConnection,
        protocol: VoiceProtocol,
        hello: Hello,
        output_rate: int,
        lead: float,
    ) -> None:
        self._connection = connection
        self._protocol = protocol
        self._hello = hello
        self._output_rate = output_rate
        self._lead = lead
        self._playout = PlayoutBuffer(output_rate)
        self._send_lock = asyncio.Lock()
        self._pacer: asyncio.Task[None] | None = None
        self._played_until = 0.0

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
        self._protocol.accept(session_id, room_id, self.input_rate, self._output_rate, FRAME_MS)
        await self._flush()
        self._pacer = asyncio.create_task(self._pace(), name=f"ws-pacer-{session_id}")

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """The client's audio; ``interrupt`` messages go to the interrupt handler."""
        try:
            async for message in self._connection:
                for event in self._protocol.receive(message):
                    if isinstance(event, AudioIn):
                        yield self._frame(event.pcm)
                    elif isinstance(event, Interrupt) and self.interrupt_handler is not None:
                        await self.interrupt_handler()
                    elif isinstance(event, Bye):
                        self._protocol.close(CloseCode.NORMAL, "bye")
                await self._flush()
                if self._protocol.close_code is not None:
                    return
        except ConnectionClosed:
            return

    async def play(self, frame: AudioFrame) -> None:
        """Queue answer audio for the pacer."""
        self._playout.push(frame.samples.reshape(-1))

    def flush(self) -> None:
        """Drop queued answer audio; what the client holds is at most ``lead`` seconds."""
        self._playout.flush()
        self._played_until = 0.0

    async def wait_played(self) -> None:
        """Wait until the queue is sent and the client has played it (estimated)."""
        await self._playout.wait_drained()
        remaining = self._played_until - asyncio.get_running_loop().time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def notify(self, notice: Notice) -> None:
        """Send ``notice`` as its protocol message."""
        write_notice(self._protocol, notice)
        await self._flush()

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Close the connection with ``code``."""
        self._protocol.close(code, reason)
        await self._flush()
        if self._pacer is not None:
            self._pacer.cancel()
            await asyncio.gather(self._pacer, return_exceptions=True)

    def _frame(self, pcm: bytes) -> AudioFrame:
        return AudioFrame.from_bytes(pcm, self._hello.sample_rate, self._hello.channels)

    async def _flush(self) -> None:
        async with self._send_lock:
            outgoing = self._protocol.data_to_send()
            try:
                for data in outgoing:
                    await self._connection.send(data)
                if self._protocol.close_code is not None:
                    await self._connection.close(
                        self._protocol.close_code, self._protocol.close_reason
                    )
            except ConnectionClosed:
                pass

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        frame_samples = self._output_rate * FRAME_MS // 1000
        while True:
            chunk = self._playout.pull(frame_samples)
            if chunk is None:
                await self._playout.wait_audio()
                continue
            now = loop.time()
            self._played_until = max(self._played_until, now) + FRAME_MS / 1000.0
            self._protocol.tts_audio(chunk.tobytes())
            await self._flush()
            ahead = self._played_until - loop.time() - self._lead
            if ahead > 0:
                await asyncio.sleep(ahead)


class WebSocketVoiceBackend(VoiceBackend):
    """Voice sessions over WebSockets, mounted on the gateway's :class:`FrontDoor`.

    Each connection is authenticated on its upgrade request; a rejected one is
    closed with 4401 before it can send anything. The client then has
    ``hello_timeout`` seconds to send its ``hello`` (see ``docs/protocol.md``).
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
        super().__init__()
        self._auth = auth
        self._allow_anonymous = allow_anonymous
        self._output_rate = output_rate
        self._hello_timeout = hello_timeout
        self._lead = playout_lead
        self._path = path
        self._transports: set[WebSocketTransport] = set()

    @property
    def session_count(self) -> int:
        """Connections past their hello."""
        return len(self._transports)

    def mount(self, door: FrontDoor) -> None:
        """Serve the voice WebSocket on ``door`` at this backend's path."""
        door.websocket(self._path, self._serve)

    async def close(self) -> None:
        """Close every session with 1001 (going away)."""
        await asyncio.gather(
            *(t.close(CloseCode.GOING_AWAY, "server shutting down") for t in self._transports)
        )

    async def _serve(self, request: HttpRequest, connection: ServerConnection) -> None:
        outcome = await authenticate(self._auth, request, allow_anonymous=self._allow_anonymous)
        if not outcome.accepted:
            self.session_handler.record_error("auth")
            await connection.close(CloseCode.UNAUTHORIZED, outcome.reason)
            return
        protocol = VoiceProtocol()
        hello = await self._await_hello(connection, protocol)
        if hello is None:
            return
        transport = WebSocketTransport(connection, protocol, hello, self._output_rate, self._lead)
        session_request = SessionRequest(outcome.metadata, hello.room_id)
        self._transports.add(transport)
        try:
            await run_with_auth_context(
                outcome.metadata, self.session_handler.run_session, transport, session_request
            )
        finally:
            self._transports.discard(transport)
            await transport.close(CloseCode.NORMAL, "session ended")

    async def _await_hello(
        self, connection: ServerConnection, protocol: VoiceProtocol
    ) -> Hello | None:
        """Read until the hello; ``None`` if the connection ended or was refused."""
        hello: Hello | None = None
        try:
            async with asyncio.timeout(self._hello_timeout):
                while hello is None and protocol.close_code is None:
                    events = protocol.receive(await connection.recv())
                    hello = next((e for e in events if isinstance(e, Hello)), None)
        except TimeoutError:
            protocol.hello_timed_out(self._hello_timeout)
        except ConnectionClosed:
            return None
        if hello is None or protocol.close_code is not None:
            self.session_handler.record_error("protocol")
            code = protocol.close_code or CloseCode.PROTOCOL_VIOLATION
            with contextlib.suppress(ConnectionClosed):
                for data in protocol.data_to_send():
                    await connection.send(data)
                await connection.close(code, protocol.close_reason)
            return None
        if not self.session_handler.accepting():
            await connection.close(CloseCode.TRY_AGAIN_LATER, "server_busy")
            return None
        return hello

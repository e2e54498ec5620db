"""A member that stopped reading its WebSocket delays no one in its room, and is closed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from voicegate.testing import ScriptedSTT, VoiceHarness, voice_harness
from voicegate.voice.access import ROOMS_KEY
from voicegate.voice.backend import SessionRequest
from voicegate.voice.hello import Hello
from voicegate.voice.notices import AnswerStarted, FinalTranscript
from voicegate.voice.protocol import VoiceProtocol
from voicegate.voice.websocket import WebSocketTransport

HANG_GUARD_S = 60.0


class StalledSocket:
    """A client that said hello, read ``ready`` and then stopped reading (and sending)."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []
        self.closed_with: tuple[int, str] | None = None
        self._never = asyncio.Event()
        self._reading = asyncio.Event()

    async def accept(self, subprotocol: str | None = None) -> None:
        """Already accepted."""

    async def receive(self) -> str | bytes:
        await self._never.wait()
        raise AssertionError("unreachable")

    async def send(self, message: str | bytes) -> None:
        if self.sent:  # everything after ``ready`` waits for a reader
            await self._reading.wait()
        self.sent.append(message)

    def resume(self) -> None:
        """The client reads again."""
        self._reading.set()

    async def close(self, code: int, reason: str = "") -> None:
        self.closed_with = (code, reason)


@asynccontextmanager
async def stalled_member(
    harness: VoiceHarness, room_id: str, send_timeout: float
) -> AsyncIterator[tuple[StalledSocket, asyncio.Task[None]]]:
    """A WebSocket session in ``room_id`` whose client stopped reading."""
    socket = StalledSocket()
    protocol = VoiceProtocol()
    [hello] = protocol.receive_text(json.dumps({"type": "hello", "sample_rate": 16000}))
    assert isinstance(hello, Hello)
    transport = WebSocketTransport(socket, protocol, hello, 16000, 0.1, send_timeout)
    session = asyncio.create_task(
        harness.gateway.run_session(
            transport, SessionRequest({ROOMS_KEY: [room_id]}, room_id), harness.gateway.reserve()
        )
    )
    try:
        yield socket, session
    finally:
        socket.resume()
        await transport.close()
        await session


async def test_a_member_that_stopped_reading_delays_no_one() -> None:
    stt = ScriptedSTT(["one", "two", "three"])
    async with (
        asyncio.timeout(HANG_GUARD_S),
        voice_harness(stt) as harness,
        harness.call() as caller,
        stalled_member(harness, caller.room_id, send_timeout=3600) as (socket, _),
    ):
        for turn in range(1, 4):
            await caller.say(speech_ms=600, silence_ms=400)
            await caller.transport.wait_for(AnswerStarted, turn)
        finals = [f.text for f in caller.transport.of_type(FinalTranscript)]
        assert finals == ["one", "two", "three"]
        assert len(harness.gateway.sessions) == 2  # the stalled one is still there
        assert socket.closed_with is None


async def test_a_member_that_stays_behind_is_closed_with_4429() -> None:
    stt = ScriptedSTT(["one", "two"])
    async with (
        asyncio.timeout(HANG_GUARD_S),
        voice_harness(stt) as harness,
        harness.call() as caller,
        stalled_member(harness, caller.room_id, send_timeout=0.2) as (socket, session),
    ):
        await caller.say(speech_ms=600, silence_ms=400)  # its answer goes to both
        await session  # the stalled one's session ends by itself
        assert socket.closed_with == (4429, "too_slow")
        assert list(harness.gateway.sessions) == [caller.session_id]
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(AnswerStarted, 2)

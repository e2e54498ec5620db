"""Admission: max_sessions holds when connections arrive together, and a slot always comes back."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from aiortc import RTCPeerConnection
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.voice.conftest import close_code
from tests.voice.rtc.peers import offer_sdp
from voicegate import InMemoryStore, Room, RoomKit
from voicegate.inference import Pressure
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import EmbeddedServer
from voicegate.testing import ScriptedSTT, ToneTTS
from voicegate.voice.admission import Admission, CapacityError
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.webrtc import WebRTCVoiceBackend
from voicegate.voice.websocket import WebSocketVoiceBackend

MAX_SESSIONS = 3
CALLERS = 24
HANG_GUARD_S = 60.0


class SlowStore(InMemoryStore):
    """An in-memory store whose room lookups take a while, as a busy database's do."""

    async def create_room(self, room: Room) -> Room:
        await asyncio.sleep(0.05)
        return await super().create_room(room)

    async def get_room(self, room_id: str) -> Room | None:
        await asyncio.sleep(0.05)
        return await super().get_room(room_id)


@dataclass
class Served:
    gateway: VoiceGateway
    port: int


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    kit = RoomKit(store=SlowStore())
    gateway = VoiceGateway(
        kit,
        stt=ScriptedSTT([]),
        tts=ToneTTS(),
        backends=[
            WebSocketVoiceBackend(allow_anonymous=True),
            WebRTCVoiceBackend(allow_anonymous=True, connect_timeout=1.0),
        ],
        max_sessions=MAX_SESSIONS,
    )
    async with kit:
        await gateway.start()
        async with EmbeddedServer(create_voice_app(gateway), "127.0.0.1", 0) as server:
            yield Served(gateway, server.port)
            await gateway.close()


def test_a_slot_is_counted_at_once_and_freed_once() -> None:
    admission = Admission(2, lambda: None)
    first, second = admission.reserve(), admission.reserve()
    with pytest.raises(CapacityError) as refused:
        admission.reserve()
    assert refused.value.reason == "server_busy"
    with first:
        pass
    first.release()  # a second release frees nothing more
    assert admission.taken == 1
    handed = second.hand_over()
    second.release()  # the handed-over slot is no longer this one's to free
    assert admission.taken == 1
    handed.release()
    assert admission.taken == 0


def test_a_loaded_recogniser_refuses_new_sessions() -> None:
    pressure = Pressure(waiting=0, wait_s=0.0, busy=0.5, required_busy=0.2)
    admission = Admission(10, lambda: pressure, max_final_wait=1.0, max_final_busy=0.8)
    admission.reserve()
    pressure = Pressure(waiting=4, wait_s=2.5, busy=1.0, required_busy=0.5)
    with pytest.raises(CapacityError, match=r"wait 2\.50 s") as refused:
        admission.reserve()
    assert refused.value.reason == "overloaded"
    pressure = Pressure(waiting=0, wait_s=0.1, busy=1.0, required_busy=0.9)
    with pytest.raises(CapacityError, match="90%"):
        admission.reserve()
    assert admission.taken == 1


async def eventually(condition: Callable[[], bool], what: str) -> None:
    """Return once ``condition()`` holds: the server's side of a closed connection ends a
    moment after the client's (polled; HANG_GUARD_S bounds it)."""
    for _ in range(int(HANG_GUARD_S / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_hellos_arriving_together_open_max_sessions_and_no_more(served: Served) -> None:
    answered: list[str] = []
    everyone_answered = asyncio.Event()

    def answer(kind: str) -> None:
        answered.append(kind)
        if len(answered) == CALLERS:
            everyone_answered.set()

    async def call() -> tuple[int, str] | None:
        async with connect(f"ws://127.0.0.1:{served.port}/ws") as ws:
            await ws.send(json.dumps({"type": "hello", "sample_rate": 16000}))
            try:
                first = await ws.recv()
            except ConnectionClosed:
                answer("closed")
                return await close_code(ws)
            kind = json.loads(first)["type"]
            answer(kind)
            if kind == "error":  # a refused caller is told why, then closed
                return await close_code(ws)
            await everyone_answered.wait()  # in the session until every caller knows
            return None

    async with asyncio.timeout(HANG_GUARD_S):
        calls = [asyncio.create_task(call()) for _ in range(CALLERS)]
        await everyone_answered.wait()
        assert answered.count("ready") == MAX_SESSIONS
        assert served.gateway.admission.taken == MAX_SESSIONS
        refusals = [code for code in await asyncio.gather(*calls) if code is not None]
        assert refusals == [(1013, "server_busy")] * (CALLERS - MAX_SESSIONS)
    await eventually(lambda: served.gateway.admission.taken == 0, "every slot released")
    assert served.gateway.sessions == {}


async def test_offers_arriving_together_open_max_sessions_and_no_more(served: Served) -> None:
    client = RTCPeerConnection()
    client.addTransceiver("audio", direction="sendrecv")
    client.createDataChannel("voicegate")
    sdp = await offer_sdp(client)
    body = json.dumps({"sdp": sdp, "type": "offer"}).encode()

    def post() -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{served.port}/webrtc/offer",
            body,
            {"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    try:
        async with asyncio.timeout(HANG_GUARD_S):
            statuses = await asyncio.gather(*(asyncio.to_thread(post) for _ in range(CALLERS)))
            assert sorted(statuses) == [200] * MAX_SESSIONS + [503] * (CALLERS - MAX_SESSIONS)
        # nobody connects: each session ends after connect_timeout, and its slot comes back
        await eventually(lambda: served.gateway.admission.taken == 0, "every slot released")
    finally:
        await client.close()
    assert served.gateway.sessions == {}

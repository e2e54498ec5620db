"""What crosses processes beyond room events, on real `voicegate serve` processes sharing
one PostgreSQL and one Redis: a caller on one process interrupts an answer that streams
in another; the callers of a process killed with SIGKILL leave their rooms."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from tests.postgres.cluster import (
    TURN_TIMEOUT_S,
    cluster,
    shared_args,
    stored_timeline,
    token_query,
)
from tests.servers import start_serve
from tests.voice.conftest import speech, spoken_turn, voice_client
from voicegate.core.models import ChannelType, RoomStatus, TextContent
from voicegate.store.postgres import PostgresStore
from voicegate.tts.piper import PiperTTS

pytestmark = [pytest.mark.redis, pytest.mark.models]

FIRST_PART = "Once upon a time a lighthouse keeper lived alone on a rocky island. "
NEVER_SAID = "This sentence comes after the caller interrupted and must never be spoken. "
LEASE_TTL_S = 2.0
REQUEST_LEAD_MS = 900
"""How far ahead of real time A's caller sends its request, inside the server's 1 s burst
allowance: a test process held up for less than this plus the server's ``stall_ms`` leaves
no pause in the request, which the server would fill with silence and cut it in two (two
turns, two answers)."""


@dataclass
class StoryServer:
    """An OpenAI-compatible stand-in for the language model: it streams FIRST_PART, then
    holds the stream open (SSE comments) until the client goes away, then NEVER_SAID.
    ``log`` records, in order, what happened to it and what the test did."""

    log: list[str] = field(default_factory=list)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.log.append("asked")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            await response.write(_chunk(FIRST_PART))
            self.log.append("first part sent")
            while True:  # until the answer is cancelled, which closes the connection
                await asyncio.sleep(0.1)
                await response.write(b": still thinking\n\n")
        except (ConnectionError, RuntimeError):
            self.log.append("client gone")
            self.gone.set()
            return response
        finally:
            if not self.gone.is_set():
                await response.write(_chunk(NEVER_SAID))


def _chunk(text: str) -> bytes:
    chunk = {"choices": [{"index": 0, "delta": {"content": text}}]}
    return f"data: {json.dumps(chunk)}\n\n".encode()


@pytest.fixture
async def story_server() -> AsyncIterator[StoryServer]:
    server = StoryServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", server.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


async def test_a_caller_on_another_process_interrupts_the_streaming_answer(
    postgres_dsn: str, redis_url: str, tts: PiperTTS, story_server: StoryServer
) -> None:
    request = spoken_turn(await speech(tts, "Tell me a long story."))
    args = [*shared_args(postgres_dsn, redis_url), "--responder", "ai"]
    async with cluster(2, [*args, "--ai-url", story_server.base_url]) as (answering, other):
        token = token_query(answering)
        async with voice_client(answering.ws_url + token) as a:
            room_id = a.ready["room_id"]
            async with voice_client(other.ws_url + token, {"room_id": room_id}) as b:
                await a.say(request, REQUEST_LEAD_MS)  # answered in A's process, where it streams
                started = await b.wait_for("tts_start")  # B's process speaks its first part
                story_server.log.append("B interrupts")
                await b.connection.send(json.dumps({"type": "interrupt"}))
                cut = await b.wait_for("tts_end")
                await asyncio.wait_for(story_server.gone.wait(), TURN_TIMEOUT_S)

    assert started["text"] == FIRST_PART.strip()
    assert cut["interrupted"] is True
    # the answer streaming in A stopped because B interrupted it: A closed the model's stream
    assert story_server.log == ["asked", "first part sent", "B interrupts", "client gone"]
    timeline = await stored_timeline(postgres_dsn, room_id)
    answer = [e for e in timeline if e.source.channel_id == "ai"]
    assert [e.metadata["part"] for e in answer] == [0], "the answer ends after its first part"
    assert isinstance(answer[0].content, TextContent)
    assert answer[0].content.body == FIRST_PART.strip()


async def _voice_bindings(dsn: str, room_id: str) -> tuple[RoomStatus | None, set[str]]:
    """The room's status and the ids of the voice channels bound to it, as stored."""
    store = PostgresStore(dsn)
    try:
        bindings = await store.list_bindings(room_id)
        room = await store.get_room(room_id)
    finally:
        await store.close()
    voices = {b.channel_id for b in bindings if b.channel_type is ChannelType.VOICE}
    return (None if room is None else room.status), voices


async def _until(
    dsn: str, room_id: str, done: Callable[[RoomStatus | None, set[str]], bool]
) -> tuple[RoomStatus | None, set[str]]:
    """Poll the store until ``done(room, voice channel ids)`` holds (a generous deadline)."""
    async with asyncio.timeout(TURN_TIMEOUT_S):
        while True:
            status, voices = await _voice_bindings(dsn, room_id)
            if done(status, voices):
                return status, voices
            await asyncio.sleep(0.2)


async def test_the_callers_of_a_killed_process_leave_their_rooms(
    postgres_dsn: str, redis_url: str
) -> None:
    args = [*shared_args(postgres_dsn, redis_url), "--lease-ttl", str(LEASE_TTL_S)]
    async with cluster(2, args) as (doomed, survivor):
        token = token_query(survivor)
        async with voice_client(survivor.ws_url + token) as b:
            room_id = b.ready["room_id"]
            async with voice_client(doomed.ws_url + token, {"room_id": room_id}):
                _, voices = await _until(postgres_dsn, room_id, lambda r, v: len(v) == 2)
                doomed.process.kill()  # SIGKILL: its caller's binding is never detached
                await doomed.process.wait()
            # the survivor removes the dead process's caller once its lease has run out
            status, left = await _until(postgres_dsn, room_id, lambda r, v: len(v) == 1)
            assert status is RoomStatus.ACTIVE  # B is still in it
            assert left < voices
        # B hangs up: the last caller is gone, so the room closes
        _, left = await _until(postgres_dsn, room_id, lambda r, v: r is RoomStatus.CLOSED)
        assert left == set()


async def test_a_process_started_later_removes_the_callers_of_a_dead_one(
    postgres_dsn: str, redis_url: str
) -> None:
    args = [*shared_args(postgres_dsn, redis_url), "--lease-ttl", str(LEASE_TTL_S)]
    async with (
        cluster(1, args) as (doomed,),
        voice_client(doomed.ws_url + token_query(doomed)) as a,
    ):
        room_id = a.ready["room_id"]
        await _until(postgres_dsn, room_id, lambda r, v: len(v) == 1)
        doomed.process.kill()
        await doomed.process.wait()
    # nobody is left to notice; the room stays open with its dead caller until a process starts
    status, voices = await _voice_bindings(postgres_dsn, room_id)
    assert status is RoomStatus.ACTIVE
    assert len(voices) == 1
    later = await start_serve(*args)
    try:
        _, voices = await _until(postgres_dsn, room_id, lambda r, v: r is RoomStatus.CLOSED)
        assert voices == set()
    finally:
        await later.stop()
        later.log.close()

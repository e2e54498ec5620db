"""Several `voicegate serve` processes on one PostgreSQL database and one Redis server."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from tests.servers import ServeProcess, start_serve
from tests.voice.conftest import VoiceClient, voice_client
from voicegate.core.models import RoomEvent
from voicegate.store.postgres import PostgresStore

TURN_TIMEOUT_S = 90.0

SENTENCES = (
    "Please turn on the kitchen lights.",
    "What time does the store open?",
    "The quick brown fox jumps over the lazy dog.",
    "Set a timer for ten minutes.",
)
"""What the callers of the cluster tests say, one sentence a turn (the ``turns`` fixture)."""


def token_query(process: ServeProcess) -> str:
    """``?token=...``: the token ``process`` printed, which every process of its cluster accepts."""
    return "?token=" + process.url.split("token=")[1]


def shared_args(dsn: str, redis_url: str) -> list[str]:
    """The flags of a process that shares rooms through ``dsn`` and ``redis_url``."""
    return ["--store", "postgres", "--postgres-url", dsn, "--redis-url", redis_url]


@asynccontextmanager
async def cluster(count: int, args: Sequence[str]) -> AsyncIterator[list[ServeProcess]]:
    """``count`` processes started together with ``args`` and one token secret (as a
    deployment shares it); stopped (SIGINT) at the end."""
    env = {"VOICEGATE_TOKEN_SECRET": secrets.token_urlsafe(32)}
    async with AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(start_serve(*args, env=env) for _ in range(count)), return_exceptions=True
        )
        processes = [p for p in started if isinstance(p, ServeProcess)]
        for process in processes:
            stack.push_async_callback(_finish, process)
        failures = [p for p in started if isinstance(p, BaseException)]
        if failures:
            raise failures[0]
        yield processes


async def _finish(process: ServeProcess) -> None:
    try:
        if process.process.returncode is None and (code := await process.stop()) != 0:
            # 1: its shutdown gave up on closing, and logged where it was stuck
            raise AssertionError(
                f"exit {code} on SIGINT; the end of its log:\n{process.log_tail()}"
            )
    finally:
        if process.process.returncode is None:
            process.process.kill()
            await process.process.wait()
        process.log.close()


def room_events(received: Any) -> list[dict[str, Any]]:
    """The room events a client received, in arrival order."""
    return [m["event"] for m in received.of_type("room_event")]


async def events_seen(client: VoiceClient, count: int) -> None:
    """Return once ``client`` received ``count`` room events."""
    await client.wait_until(lambda r: len(r.of_type("room_event")) >= count, TURN_TIMEOUT_S)


async def stored_timeline(dsn: str, room_id: str) -> list[RoomEvent]:
    """The room's events as PostgreSQL keeps them."""
    store = PostgresStore(dsn)
    try:
        return await store.list_events(room_id, limit=1000)
    finally:
        await store.close()


def answered_once(timeline: list[RoomEvent]) -> None:
    """Every transcript has exactly one answer, and every answer answers a transcript."""
    transcripts = [e.id for e in timeline if e.source.channel_type.value == "voice"]
    answers = [e.metadata.get("responds_to") for e in timeline if e.source.channel_id == "echo"]
    assert sorted(answers) == sorted(transcripts)


async def late_joiner(
    url: str, room_id: str, turn: list[bytes], callers: Sequence[VoiceClient]
) -> VoiceClient:
    """A caller joins ``room_id`` at ``url`` after ``callers`` had two turns each, speaks
    ``turn`` and hangs up once all heard it and its answer (and a duplicate would have come)."""
    async with voice_client(url, {"room_id": room_id}) as late:
        await late.say(turn)
        await asyncio.gather(*(events_seen(x, 6) for x in callers), events_seen(late, 2))
        await late.wait_for("tts_end")
        await asyncio.sleep(0.5)  # a duplicate would arrive now
    return late


async def three_turns_stored(
    dsn: str, room_id: str, callers: Sequence[VoiceClient], late: VoiceClient
) -> list[RoomEvent]:
    """The room's stored timeline after :func:`late_joiner`, checked: six gap-free events,
    each transcript answered once, ``callers`` got every event and ``late`` the last two."""
    timeline = await stored_timeline(dsn, room_id)
    shown = [(e.index, e.source.channel_id, e.content.body) for e in timeline]
    assert [e.index for e in timeline] == list(range(6)), f"six gap-free events: {shown}"
    answered_once(timeline)
    stored = [e.id for e in timeline]
    for client in callers:
        assert [e["id"] for e in room_events(client.received)] == stored
    assert [e["id"] for e in room_events(late.received)] == stored[4:]
    return timeline

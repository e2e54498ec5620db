"""Several `voicegate serve` processes on one PostgreSQL database and one Redis server."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from tests.servers import ServeProcess, start_serve
from tests.voice.conftest import VoiceClient
from voicegate.core.models import RoomEvent
from voicegate.store.postgres import PostgresStore

TURN_TIMEOUT_S = 90.0


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
        if process.process.returncode is None:
            await process.stop()
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

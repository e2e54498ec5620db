"""Faults of a three-process gateway: a process killed mid-call, Redis restarted mid-call.
The callers on the other processes carry on; no event is lost, split or duplicated."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.postgres.cluster import (
    answered_once,
    cluster,
    events_seen,
    late_joiner,
    room_events,
    shared_args,
    stored_timeline,
    three_turns_stored,
    token_query,
)
from tests.redis.conftest import RedisServer
from tests.voice.conftest import VoiceClient, voice_client

pytestmark = [pytest.mark.redis, pytest.mark.models]


async def _speaking_started(client: VoiceClient, count: int) -> None:
    await client.wait_until(lambda r: len(r.of_type("speech_start")) >= count, 60)


async def test_a_process_killed_mid_call(
    postgres_dsn: str, redis_url: str, turns: list[list[bytes]]
) -> None:
    async with cluster(3, shared_args(postgres_dsn, redis_url)) as processes:
        doomed, survivor, spare = processes
        token = token_query(survivor)
        async with voice_client(survivor.ws_url + token) as b:
            room_id = b.ready["room_id"]
            async with voice_client(doomed.ws_url + token, {"room_id": room_id}) as a:
                await a.say(turns[0])
                await asyncio.gather(events_seen(a, 2), events_seen(b, 2))
                speaking = asyncio.create_task(a.say(turns[1]))
                await _speaking_started(a, 2)
                doomed.process.kill()  # SIGKILL while A speaks its second turn
                await doomed.process.wait()
                await asyncio.gather(speaking, return_exceptions=True)
            await b.say(turns[2])  # B carries on, in the same room
            await events_seen(b, 4)
            async with voice_client(spare.ws_url + token, {"room_id": room_id}) as again:
                await again.say(turns[3])  # A calls again, on another process
                await asyncio.gather(events_seen(again, 2), events_seen(b, 6))
                await again.wait_for("tts_end")
                await asyncio.sleep(0.5)  # a duplicate would arrive now

    timeline = await stored_timeline(postgres_dsn, room_id)
    assert [e.index for e in timeline] == list(range(len(timeline))), "gap-free indices"
    answered_once(timeline)
    # the killed turn left nothing, or its whole transcript and its one answer
    assert len(timeline) in (6, 8)
    stored = [e.id for e in timeline]
    assert [e["id"] for e in room_events(b.received)] == stored
    assert [e["id"] for e in room_events(again.received)] == stored[-2:]


async def test_redis_restarted_mid_call(
    postgres_dsn: str, redis_server: RedisServer, turns: list[list[bytes]]
) -> None:
    async with cluster(3, shared_args(postgres_dsn, redis_server.url)) as processes:
        token = token_query(processes[0])
        async with voice_client(processes[0].ws_url + token) as a:
            room_id = a.ready["room_id"]
            async with voice_client(processes[1].ws_url + token, {"room_id": room_id}) as b:
                await a.say(turns[0])
                await asyncio.gather(events_seen(a, 2), events_seen(b, 2))
                speaking = asyncio.create_task(b.say(turns[1]))
                await _speaking_started(b, 1)
                redis_server.stop()
                await speaking  # B's turn waits for the room lock while Redis is away
                redis_server.start()
                await asyncio.gather(events_seen(a, 4), events_seen(b, 4))
                c = await late_joiner(processes[2].ws_url + token, room_id, turns[2], (a, b))
        for process in processes:
            assert await process.stop(signal.SIGINT) == 0, process.read_log()

    await three_turns_stored(postgres_dsn, room_id, (a, b), c)

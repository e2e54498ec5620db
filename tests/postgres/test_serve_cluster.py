"""Three `voicegate serve` processes on one PostgreSQL and one Redis are one gateway: callers
of one room on different processes hear each other, every event once, in index order; a
token one process issued is accepted by the others."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from tests.postgres.cluster import (
    SENTENCES,
    cluster,
    events_seen,
    late_joiner,
    shared_args,
    three_turns_stored,
    token_query,
)
from tests.servers import health
from tests.voice.conftest import close_code, voice_client
from voicegate.stt.wer import word_error_rate

pytestmark = [pytest.mark.redis, pytest.mark.models]


async def test_three_processes_share_a_room(
    postgres_dsn: str, redis_url: str, turns: list[list[bytes]]
) -> None:
    async with cluster(3, shared_args(postgres_dsn, redis_url)) as processes:
        status, report = await asyncio.to_thread(health, processes[0].port)
        assert (status, report["dependencies"]) == (200, {"postgres": "ok", "redis": "ok"})
        # one token, issued by the first process, for every process
        token = token_query(processes[0])
        async with connect(processes[1].ws_url + "?token=forged") as refused:
            assert (await close_code(refused))[0] == 4401
        async with voice_client(processes[0].ws_url + token) as a:
            room_id = a.ready["room_id"]
            async with voice_client(processes[1].ws_url + token, {"room_id": room_id}) as b:
                await a.say(turns[0])
                await asyncio.gather(events_seen(a, 2), events_seen(b, 2))
                await b.say(turns[1])
                await asyncio.gather(events_seen(a, 4), events_seen(b, 4))
                c = await late_joiner(processes[2].ws_url + token, room_id, turns[2], (a, b))

    timeline = await three_turns_stored(postgres_dsn, room_id, (a, b), c)
    transcripts = [e.content for e in timeline if e.source.channel_type.value == "voice"]
    spoken = zip(SENTENCES[:3], transcripts, strict=True)
    pairs = [(s, getattr(t, "body", "")) for s, t in spoken]
    assert word_error_rate(pairs) <= 0.2
    # everyone heard the answer to the late joiner, spoken by their own process
    for client in (a, b, c):
        assert client.received.of_type("tts_end")

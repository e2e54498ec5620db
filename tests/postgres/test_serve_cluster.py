"""Three `voicegate serve` processes on one PostgreSQL and one Redis are one gateway: callers
of one room on different processes hear each other, every event once, in index order; a
token one process issued is accepted by the others."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from tests.postgres.cluster import (
    answered_once,
    cluster,
    events_seen,
    room_events,
    shared_args,
    stored_timeline,
    token_query,
)
from tests.servers import health
from tests.voice.conftest import close_code, speech, spoken_turn, voice_client
from voicegate.stt.wer import word_error_rate
from voicegate.tts.piper import PiperTTS

pytestmark = [pytest.mark.redis, pytest.mark.models]

SENTENCES = (
    "Please turn on the kitchen lights.",
    "What time does the store open?",
    "The quick brown fox jumps over the lazy dog.",
)


async def test_three_processes_share_a_room(
    postgres_dsn: str, redis_url: str, tts: PiperTTS
) -> None:
    turns = [spoken_turn(await speech(tts, sentence)) for sentence in SENTENCES]
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
                hello = {"room_id": room_id}
                async with voice_client(processes[2].ws_url + token, hello) as c:
                    await c.say(turns[2])
                    await asyncio.gather(*(events_seen(x, 6) for x in (a, b)), events_seen(c, 2))
                    await c.wait_for("tts_end")
                    await asyncio.sleep(0.5)  # a duplicate would arrive now

    timeline = await stored_timeline(postgres_dsn, room_id)
    assert [e.index for e in timeline] == list(range(6)), "gap-free indices"
    answered_once(timeline)
    stored = [e.id for e in timeline]
    for client in (a, b):
        assert [e["id"] for e in room_events(client.received)] == stored
    assert [e["id"] for e in room_events(c.received)] == stored[4:]
    transcripts = [e.content for e in timeline if e.source.channel_type.value == "voice"]
    pairs = [(s, getattr(t, "body", "")) for s, t in zip(SENTENCES, transcripts, strict=True)]
    assert word_error_rate(pairs) <= 0.2
    # everyone heard the answer to the late joiner, spoken by their own process
    for client in (a, b, c):
        assert client.received.of_type("tts_end")

"""Two OS processes, each with its own RoomKit, write into one room of one PostgreSQL database."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from voicegate.core.models import Room
from voicegate.store.postgres import PostgresStore

WRITER = Path(__file__).with_name("writer.py")
ROOT = Path(__file__).resolve().parents[2]
PER_PROCESS = 150

pytestmark = pytest.mark.redis


async def start_writer(dsn: str, redis_url: str, channel_id: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    arguments = [dsn, redis_url, "shared", channel_id, str(PER_PROCESS), str(2 * PER_PROCESS)]
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        *arguments,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )


async def finish(writer: asyncio.subprocess.Process) -> dict[str, Any]:
    stdout, stderr = await asyncio.wait_for(writer.communicate(), timeout=120)
    assert writer.returncode == 0, stderr.decode()
    report: dict[str, Any] = json.loads(stdout.decode().splitlines()[-1])
    return report


async def test_two_processes_write_one_gap_free_timeline(postgres_dsn: str, redis_url: str) -> None:
    store = PostgresStore(postgres_dsn)
    await store.create_room(Room(id="shared"))
    writers = [await start_writer(postgres_dsn, redis_url, name) for name in ("a", "b")]
    for writer in writers:  # both attached and connected before either sends
        assert writer.stdout is not None
        line = await asyncio.wait_for(writer.stdout.readline(), timeout=60)
        assert line == b"ready\n", line
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write(b"go\n")
        await writer.stdin.drain()
    reports = dict(zip("ab", await asyncio.gather(*map(finish, writers)), strict=True))

    timeline = await store.list_events("shared", limit=3 * PER_PROCESS)
    await store.close()
    assert [e.index for e in timeline] == list(range(2 * PER_PROCESS))
    stored_ids = [e.id for e in timeline]
    assert sorted(stored_ids) == sorted(reports["a"]["sent"] + reports["b"]["sent"])
    assert len(set(stored_ids)) == 2 * PER_PROCESS, "every event exactly once"
    sources = [e.source.channel_id for e in timeline]
    switches = sum(1 for before, after in itertools.pairwise(sources) if before != after)
    assert switches > 1, "the two processes wrote at the same time"
    expected = [[e.id, e.index, e.source.channel_id] for e in timeline]
    for name, other in (("a", "b"), ("b", "a")):
        assert reports[name]["timeline"] == expected, f"{name} read the room as it is stored"
        assert set(reports[other]["sent"]) <= {row[0] for row in reports[name]["timeline"]}

"""`voicegate serve` on PostgreSQL and Redis: one line when a server cannot be reached at start,
and /healthz reporting each of them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tests.postgres.cluster import shared_args
from tests.redis.conftest import RedisServer, free_port
from tests.servers import health, serving

pytestmark = [pytest.mark.redis, pytest.mark.models]


def _serve_fails(*args: str) -> str:
    """The one line `voicegate serve ARGS` says on stderr as it exits 2 (anonymous: no token
    secret is kept in the working folder)."""
    result = subprocess.run(
        [sys.executable, "-m", "voicegate", "serve", "--port", "0", "--anonymous", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_one_line_when_postgres_or_redis_cannot_be_reached(postgres_dsn: str) -> None:
    nowhere = free_port()
    dead_postgres = f"postgresql://postgres:hunter2@127.0.0.1:{nowhere}/voicegate"
    line = _serve_fails("--store", "postgres", "--postgres-url", dead_postgres)
    assert line.startswith(
        f"voicegate serve: cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:{nowhere}"
    )
    assert "hunter2" not in line
    dead_redis = f"redis://127.0.0.1:{nowhere}/0"
    line = _serve_fails(*shared_args(postgres_dsn, dead_redis))
    assert line.startswith(f"voicegate serve: cannot reach Redis at {dead_redis}: ")
    assert "needs postgres_url" in _serve_fails("--store", "postgres")
    assert "redis_url needs store = postgres" in _serve_fails("--redis-url", dead_redis)


async def test_healthz_reports_each_dependency(
    postgres_dsn: str, redis_server: RedisServer
) -> None:
    async with serving(*shared_args(postgres_dsn, redis_server.url), "--anonymous") as server:
        status, report = await asyncio.to_thread(health, server.port)
        assert (status, report["status"]) == (200, "ok")
        assert report["dependencies"] == {"postgres": "ok", "redis": "ok"}
        redis_server.stop()
        status, report = await asyncio.to_thread(health, server.port)
        assert (status, report["status"]) == (503, "degraded")
        assert report["dependencies"]["postgres"] == "ok"
        assert report["dependencies"]["redis"].startswith("unreachable: ")
        redis_server.start()
        status, report = await asyncio.to_thread(health, server.port)
        assert (status, report["dependencies"]) == (200, {"postgres": "ok", "redis": "ok"})
        assert await server.stop() == 0, server.read_log()

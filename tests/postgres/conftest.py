"""A real PostgreSQL server (and a real redis-server for the multi-process test)."""

from __future__ import annotations

import pytest

from tests.postgres.cluster import SENTENCES
from tests.postgres.server import PostgresServer, postgres_server
from tests.redis.conftest import redis_server, redis_url
from tests.voice.conftest import speech, spoken_turn
from voicegate.tts.piper import PiperTTS

__all__ = ["postgres_server", "redis_server", "redis_url"]


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """A new empty database of the session's server."""
    return postgres_server.create_database()


@pytest.fixture
async def turns(tts: PiperTTS) -> list[list[bytes]]:
    """The callers' turns: each of ``SENTENCES`` spoken by Piper, as 16 kHz frames."""
    return [spoken_turn(await speech(tts, sentence)) for sentence in SENTENCES]

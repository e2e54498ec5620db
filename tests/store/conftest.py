"""Fixtures shared by the store tests: every store the contract covers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.postgres.server import PostgresServer, postgres_server
from voicegate.core.store import ConversationStore, InMemoryStore
from voicegate.store.sqlite import SQLiteStore

StoreFactory = Callable[[], ConversationStore]

__all__ = ["postgres_server"]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes stores of one kind; the stores one factory makes share one file or database."""
    if request.param == "memory":
        return InMemoryStore
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "rooms.db")
    from voicegate.store.postgres import PostgresStore

    server: PostgresServer = request.getfixturevalue("postgres_server")
    dsn = server.create_database()
    return lambda: PostgresStore(dsn)


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[ConversationStore]:
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()

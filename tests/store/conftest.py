"""Fixtures shared by the store tests: every store the contract covers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from voicegate.store import ConversationStore, InMemoryStore, SQLiteStore

StoreFactory = Callable[[], ConversationStore]


@pytest.fixture(params=["memory", "sqlite"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes stores of one kind; SQLite stores made by one factory share one file."""
    if request.param == "memory":
        return InMemoryStore
    return lambda: SQLiteStore(tmp_path / "rooms.db")


@pytest.fixture
async def store(store_factory: StoreFactory) -> AsyncIterator[ConversationStore]:
    opened = store_factory()
    await opened.open()
    yield opened
    await opened.close()

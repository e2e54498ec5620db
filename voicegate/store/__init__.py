"""Conversation stores."""

from voicegate.store.base import ConversationStore, StoreError
from voicegate.store.memory import InMemoryStore
from voicegate.store.sqlite import SQLiteStore

__all__ = ["ConversationStore", "InMemoryStore", "SQLiteStore", "StoreError"]

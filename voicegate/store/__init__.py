"""Conversation stores."""

from voicegate.store.base import ConversationStore, StoreError
from voicegate.store.memory import InMemoryStore

__all__ = ["ConversationStore", "InMemoryStore", "StoreError"]

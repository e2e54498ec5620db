"""Conversation stores."""

from voicegate.store.base import ConversationStore

__all__ = ["ConversationStore"]

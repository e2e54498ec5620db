"""The durable conversation stores: ``SQLiteStore`` (:mod:`voicegate.store.sqlite`) and
``PostgresStore`` (:mod:`voicegate.store.postgres`).

Each implements :class:`voicegate.core.store.ConversationStore`; import the one you use
from its module, so that importing one loads neither the other nor its driver.
"""

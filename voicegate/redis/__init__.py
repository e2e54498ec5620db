"""Redis backends for running several gateway processes: room locks and realtime events.

Needs the ``redis`` extra (``pip install 'voicegate[redis]'``); the package is
imported only when a backend is built.
"""

from voicegate.redis.locks import RedisLockManager
from voicegate.redis.realtime import RedisRealtime

__all__ = ["RedisLockManager", "RedisRealtime"]

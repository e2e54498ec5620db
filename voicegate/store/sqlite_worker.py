"""One dedicated thread that owns a SQLite connection and group-commits its work.

Every operation is a function of the connection. The thread takes whatever
operations are queued, runs them in order inside ONE transaction (each under
its own savepoint, so a failing operation undoes only itself), commits, and
only then resolves the callers' futures: an awaited write is committed, and a
burst of writes from many rooms costs one commit instead of one each.

When the transaction itself fails (a full disk, an I/O error: SQLite may already have
rolled it back), nothing of it is kept: the state kept beside the database is reloaded
and each operation of the batch runs again in a transaction of its own, so reads (and
writes that still fit) succeed and the others raise :class:`StoreUnavailableError`. The
thread goes on serving; :attr:`SQLiteWorker.failure` says why writes fail until one
commits again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from voicegate.core.store import StoreError, StoreUnavailableError

logger = logging.getLogger(__name__)

T = TypeVar("T")
Operation = Callable[[sqlite3.Connection], Any]
_Job = tuple[Operation, "asyncio.Future[Any]"]
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]

_STORAGE_FAILURES = frozenset(
    {
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_NOMEM,
    }
)
"""Primary result codes that mean the database cannot write, whatever the operation."""


class SQLiteWorker:
    """Runs operations on one connection in one thread; see the module docstring.

    ``setup`` runs once on the fresh connection (schema, pragmas, in-memory
    state); ``after_rollback`` runs when a commit fails, so state the
    operations keep beside the database can be reloaded from it.
    """

    def __init__(
        self,
        path: str,
        setup: Callable[[sqlite3.Connection], None],
        after_rollback: Callable[[sqlite3.Connection], None],
    ) -> None:
        self._path = path
        self._setup = setup
        self._after_rollback = after_rollback
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stopped = threading.Event()
        self._reload = False  # the kept state must be reloaded before the next batch
        self.failure: str | None = None
        """Why the latest transaction failed, until one that writes commits again."""

    async def call(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``operation`` in the worker; return its result once it is committed."""
        if self._closed:
            raise StoreError(f"SQLite store {self._path!r} is closed")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"sqlite-store:{self._path}", daemon=True
            )
            self._thread.start()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put((operation, future))
        return await future

    async def close(self) -> None:
        """Finish the queued work, commit it and close the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._thread is None:
            return
        self._jobs.put(None)
        await asyncio.to_thread(self._stopped.wait)

    def _run(self) -> None:
        try:
            connection = self._connect()
        except Exception as exc:
            self._fail_all(StoreError(f"cannot open SQLite database {self._path!r}: {exc}"))
            return
        try:
            while self._serve_batch(connection):
                pass
        finally:
            connection.close()
            self._stopped.set()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            self._setup(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _take_batch(self) -> tuple[list[_Job], bool]:
        """The queued jobs (waiting for the first) and whether a stop was asked."""
        batch: list[_Job] = []
        job = self._jobs.get()
        while job is not None:
            batch.append(job)
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _serve_batch(self, connection: sqlite3.Connection) -> bool:
        batch, stop = self._take_batch()
        if len(batch) == 1:
            outcomes = [self._serve_alone(connection, batch[0])]
        else:
            try:
                outcomes = self._transact(connection, batch)
            except Exception as exc:  # the transaction is lost: nothing of the batch is kept
                self._abandon(connection, exc)
                # each alone now, so that reads, and writes that fit, still succeed
                outcomes = [self._serve_alone(connection, job) for job in batch]
        self._resolve(outcomes)
        return not stop

    def _serve_alone(self, connection: sqlite3.Connection, job: _Job) -> _Outcome:
        try:
            return self._transact(connection, [job])[0]
        except Exception as exc:
            self._abandon(connection, exc)
            error = StoreUnavailableError(f"the SQLite store {self._path!r} cannot write: {exc}")
            return (job[1], None, error)

    def _transact(self, connection: sqlite3.Connection, batch: list[_Job]) -> list[_Outcome]:
        """Run ``batch`` in one transaction and commit it; raises if the transaction fails."""
        if self._reload:
            self._after_rollback(connection)
            self._reload = False
        lone = len(batch) == 1  # its transaction alone isolates a lone operation
        attempt = _attempt if lone else _attempt_in_savepoint
        changes = connection.total_changes
        connection.execute("BEGIN")
        outcomes = [attempt(connection, *job) for job in batch]
        if not connection.in_transaction:
            raise StoreError("SQLite rolled the transaction back")
        connection.execute("ROLLBACK" if lone and outcomes[0][2] is not None else "COMMIT")
        if connection.total_changes > changes:
            self.failure = None
        return outcomes

    def _abandon(self, connection: sqlite3.Connection, cause: Exception) -> None:
        """Roll back what is left of a failed transaction; reload the kept state next."""
        with contextlib.suppress(sqlite3.Error):
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        self._reload = True
        if self.failure != str(cause):
            logger.error("SQLite store %s cannot write: %s", self._path, cause)
        self.failure = str(cause)

    def _fail_all(self, failure: StoreError) -> None:
        """Answer every job with ``failure`` until a stop is asked."""
        while True:
            batch, stop = self._take_batch()
            self._resolve([(future, None, failure) for _, future in batch])
            if stop:
                self._stopped.set()
                return

    @staticmethod
    def _resolve(outcomes: list[_Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].get_loop(), []).append(outcome)
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the caller's loop is already closed
                loop.call_soon_threadsafe(_settle, settled)


def _attempt(
    connection: sqlite3.Connection, operation: Operation, future: asyncio.Future[Any]
) -> _Outcome:
    """The operation's result or its own error; a storage failure loses the whole
    transaction, so it is raised."""
    try:
        return (future, operation(connection), None)
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF in _STORAGE_FAILURES:
            raise
        return (future, None, exc)
    except Exception as exc:
        return (future, None, exc)


def _attempt_in_savepoint(
    connection: sqlite3.Connection, operation: Operation, future: asyncio.Future[Any]
) -> _Outcome:
    connection.execute("SAVEPOINT op")
    outcome = _attempt(connection, operation, future)
    if outcome[2] is not None:
        connection.execute("ROLLBACK TO op")
    connection.execute("RELEASE op")
    return outcome


def _settle(outcomes: list[_Outcome]) -> None:
    """On the event loop: hand each caller its result or error."""
    for future, result, error in outcomes:
        if future.cancelled():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

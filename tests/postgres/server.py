"""A real PostgreSQL server for the tests: ``initdb`` into a temporary directory, one per session.

Debian's ``postgresql`` package puts the server binaries under
``/usr/lib/postgresql/<version>/bin``; ``initdb`` refuses to run as root, so as
root the cluster belongs to the ``postgres`` user. Each test gets its own
database (``PostgresServer.create_database``).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.redis.conftest import free_port

MISSING_BINARIES = (
    "the PostgreSQL server binaries (initdb, pg_ctl) are not installed: "
    "apt-get install postgresql (scripts/install-system-deps.sh does it)"
)


def find_server_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding initdb, else the one on PATH."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1].parent
    on_path = shutil.which("initdb")
    return None if on_path is None else Path(on_path).parent


@dataclass
class PostgresServer:
    """A running cluster reachable on 127.0.0.1:``port`` as the superuser ``postgres``."""

    binaries: Path
    port: int
    _numbers: Iterator[int] = field(default_factory=itertools.count)

    def dsn(self, database: str = "postgres") -> str:
        """The connection string of ``database``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its DSN."""
        name = f"test_{next(self._numbers)}"
        self.psql(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql and return its unaligned output."""
        command = [str(self.binaries / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        command += ["-d", self.dsn(database), "-c", sql]
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"psql failed on {sql!r}: {done.stderr.strip()}")
        return done.stdout.strip()


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}): {done.stdout}{done.stderr}")


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a fresh PostgreSQL cluster on a free port; stop and delete it on exit."""
    binaries = find_server_binaries()
    if binaries is None or not (binaries / "psql").exists():
        pytest.fail(MISSING_BINARIES, pytrace=False)
    directory = Path(tempfile.mkdtemp(prefix="voicegate-pg-"))
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres")
        shutil.chown(sockets, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1"
        " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = [*run_as, str(binaries / "pg_ctl"), "-D", str(data)]
    try:
        initdb = [*run_as, str(binaries / "initdb"), "-D", str(data), "-U", "postgres"]
        _run([*initdb, "-A", "trust", "-E", "UTF8", "--no-sync"], "initdb")
        log = str(directory / "server.log")
        _run([*pg_ctl, "-w", "-t", "60", "-o", options, "-l", log, "start"], "pg_ctl start")
        yield PostgresServer(binaries, port)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the whole test session."""
    if importlib.util.find_spec("asyncpg") is None:
        pytest.fail("asyncpg is not installed: pip install 'voicegate[postgres]'", pytrace=False)
    with running_postgres() as server:
        yield server

"""Several `voicegate serve` processes on one PostgreSQL database and one Redis server."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import IO, Any

from voicegate.server.app import READY_LINE

URL_LINE = re.compile(re.escape(READY_LINE) + r"(http://127\.0\.0\.1:(\d+)/\S*)")
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0


@dataclass
class ServeProcess:
    """One running `voicegate serve`, its page URL and port."""

    process: asyncio.subprocess.Process
    url: str
    port: int
    log: IO[str]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def read_log(self) -> str:
        self.log.seek(0)
        return self.log.read()

    async def stop(self, signum: int = signal.SIGINT) -> int:
        """Send ``signum`` and return the exit status."""
        if self.process.returncode is None:
            self.process.send_signal(signum)
        return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)


async def start_serve(*args: str) -> ServeProcess:
    """Start `voicegate serve --port 0 ARGS` and wait for its URL."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "voicegate", "serve", "--port", "0", *args]
    # the log goes to a file: a pipe that nobody reads would fill and stall the server
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - ServeProcess owns it
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=log, env=env
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
    except TimeoutError:
        line = b""
    match = URL_LINE.search(line.decode())
    if match is None:
        process.kill()
        await process.wait()
        log.seek(0)
        raise AssertionError(f"voicegate serve printed no URL; its log:\n{log.read()}")
    return ServeProcess(process, match.group(1), int(match.group(2)), log)


def shared_args(dsn: str, redis_url: str) -> list[str]:
    """The flags of a process that shares rooms through ``dsn`` and ``redis_url``."""
    return ["--store", "postgres", "--postgres-url", dsn, "--redis-url", redis_url]


@asynccontextmanager
async def cluster(count: int, args: Sequence[str]) -> AsyncIterator[list[ServeProcess]]:
    """``count`` processes started together with ``args``; stopped (SIGINT) at the end."""
    async with AsyncExitStack() as stack:
        started = await asyncio.gather(
            *(start_serve(*args) for _ in range(count)), return_exceptions=True
        )
        processes = [p for p in started if isinstance(p, ServeProcess)]
        for process in processes:
            stack.push_async_callback(_finish, process)
        failures = [p for p in started if isinstance(p, BaseException)]
        if failures:
            raise failures[0]
        yield processes


async def _finish(process: ServeProcess) -> None:
    try:
        if process.process.returncode is None:
            await process.stop()
    finally:
        if process.process.returncode is None:
            process.process.kill()
            await process.process.wait()
        process.log.close()


def room_events(received: Any) -> list[dict[str, Any]]:
    """The room events a client received, in arrival order."""
    return [m["event"] for m in received.of_type("room_event")]

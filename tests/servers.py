"""`voicegate serve` as a subprocess, for tests that use the gateway as users run it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import IO, Any

from voicegate.cli.logs import LOG_LEVEL_ENV
from voicegate.server.app import READY_LINE

LOG_TAIL_CHARS = 20_000
"""How much of a failed test's server log it shows."""
CHATTY_LOGGERS = ("voicegate.inference.worker", "voicegate.inference.lanes")
"""Loggers left out of a failed test's server log at debug: a line per inference job (the
recogniser's partials make several a second), which would push the session's own lines out
of what CI shows."""
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ([\w.]+): ")
"""A record's first line as :data:`~voicegate.cli.logs.LOG_FORMAT` writes it, with its
logger's name."""
URL_LINE = re.compile(re.escape(READY_LINE) + r"(http://127\.0\.0\.1:(\d+)/\S*)")


@contextmanager
def running_server(
    *args: str, module: tuple[str, ...] = ("voicegate", "serve"), debug: bool = False
) -> Iterator[tuple[str, int]]:
    """Start `voicegate serve` (or ``python -m`` another ``module`` that takes serve's
    flags) and yield its printed URL and port; stop it with SIGINT. If the test fails, it
    shows the end of the server's log (with ``debug``, voicegate's debug lines).

    Its data folder (store and token secret) is a temporary one unless ``args`` name one.
    """
    command = [sys.executable, "-m", *module, "--port", "0", *args]
    # the server's log goes to a file: a pipe that nobody reads would fill and stall it
    with tempfile.TemporaryFile(mode="w+") as log, tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "VOICEGATE_DATA_DIR": data}
        if debug:
            env[LOG_LEVEL_ENV] = "debug"
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        try:
            assert process.stdout is not None
            match = URL_LINE.search(process.stdout.readline())
            if match is None:
                log.seek(0)
                raise AssertionError(f"voicegate serve printed no URL; its log:\n{log.read()}")
            try:
                yield match.group(1), int(match.group(2))
            except BaseException:
                log.seek(0)  # pytest shows it with the failure: the server's side of it
                print(f"voicegate serve's log:\n{_tail(log, debug)}", file=sys.stderr)
                raise
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _tail(log: IO[str], debug: bool) -> str:
    """The end of a server's log; at debug, only voicegate's own lines and what follows
    them (a traceback), not the libraries' (a line per WebSocket frame) nor the
    :data:`CHATTY_LOGGERS`'."""
    lines, ours = [], True
    for line in log:
        if record := LOG_LINE.match(line):
            name = record.group(1)
            ours = not debug or (
                name.startswith("voicegate") and not name.startswith(CHATTY_LOGGERS)
            )
        if ours:
            lines.append(line)
    return "".join(lines)[-LOG_TAIL_CHARS:]


START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0
DUMP_WAIT_S = 2.0
"""How long a server that did not stop is given to log its tasks' and threads' stacks."""


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

    def log_tail(self) -> str:
        """The end of the log, as a failed test shows it."""
        self.log.seek(0)
        return _tail(self.log, debug=os.environ.get(LOG_LEVEL_ENV) == "debug")

    async def stop(self, signum: int = signal.SIGINT) -> int:
        """Send ``signum`` and return the exit status; a server that does not stop within
        STOP_TIMEOUT_S fails the test with the end of its log, where it has logged what
        every task and thread was doing (SIGUSR1)."""
        if self.process.returncode is None:
            self.process.send_signal(signum)
        try:
            return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            self.process.send_signal(signal.SIGUSR1)
            await asyncio.sleep(DUMP_WAIT_S)
            raise AssertionError(
                f"voicegate serve did not stop within {STOP_TIMEOUT_S:.0f} s of signal "
                f"{signum}; the end of its log:\n{self.log_tail()}"
            ) from None


async def start_serve(*args: str, env: dict[str, str] | None = None) -> ServeProcess:
    """Start `voicegate serve --port 0 ARGS` (with ``env`` added to the environment) and
    wait for its URL."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
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


def health(port: int) -> tuple[int, dict[str, Any]]:
    """The status code and JSON of ``/healthz``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@asynccontextmanager
async def serving(*args: str) -> AsyncIterator[ServeProcess]:
    """A started `voicegate serve ARGS`, killed at the end if it still runs."""
    server = await start_serve(*args)
    try:
        yield server
    finally:
        if server.process.returncode is None:
            server.process.kill()
            await server.process.wait()
        server.log.close()

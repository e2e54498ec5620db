"""The gateway under test: ``voicegate serve`` as a subprocess, or a server already running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from voicegate.server.app import READY_LINE

SERVE_FLAGS = ("--anonymous", "--store", "memory", "--port", "0", "--twilio", "--sip")
SERVE_ARGS = ("serve", *SERVE_FLAGS)
"""``voicegate`` followed by these is the server the benchmarks start."""


@dataclass(frozen=True, slots=True)
class GatewayAddress:
    """Where a gateway listens, and the token its page URL carried (if any)."""

    host: str
    port: int
    token: str | None = None
    sip_port: int = 5060

    @classmethod
    def from_url(cls, url: str, sip_port: int = 5060) -> GatewayAddress:
        """Parse the page URL that ``voicegate serve`` prints (``http://HOST:PORT/?token=T``);
        its SIP port is ``sip_port``."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not a gateway URL (expected http://HOST:PORT/...): {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        tokens = parse_qs(parts.query).get("token")
        return cls(parts.hostname, port, tokens[0] if tokens else None, sip_port)

    def _query(self) -> str:
        return f"?{urlencode({'token': self.token})}" if self.token else ""

    @property
    def page_url(self) -> str:
        """The call page."""
        return f"http://{self.host}:{self.port}/{self._query()}"

    @property
    def websocket_url(self) -> str:
        """The voice WebSocket endpoint."""
        return f"ws://{self.host}:{self.port}/ws{self._query()}"

    @property
    def offer_url(self) -> str:
        """The WebRTC offer endpoint."""
        return f"http://{self.host}:{self.port}/webrtc/offer{self._query()}"


class GatewayProcess:
    """``python -m voicegate serve --anonymous --store memory --port 0 --twilio --sip`` (SIP
    on a free port) and ``args`` (later flags win: ``--store sqlite``...); use as ``async with``.
    ``program`` replaces ``voicegate serve`` with a module that takes its flags (the
    evaluations' story server).

    Entering waits for the ``voicegate listening on URL`` line (at most ``start_timeout``
    seconds) and yields its :class:`GatewayAddress`; leaving stops the server with SIGINT
    (SIGKILL if it is still running after ``stop_timeout`` seconds).
    The server's stderr goes to ``log_path``. ``python`` runs it (another checkout's
    environment, to compare its code): its ``voicegate`` is imported, never the one in the
    working directory.
    """

    def __init__(
        self,
        log_path: Path,
        *,
        program: Sequence[str] = ("voicegate", "serve"),
        args: Sequence[str] = (),
        start_timeout: float = 120.0,
        stop_timeout: float = 20.0,
        python: str = sys.executable,
    ) -> None:
        self.log_path = log_path
        self.program = tuple(program)
        self.python = python
        self.args = tuple(args)
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[None] | None = None

    async def __aenter__(self) -> GatewayAddress:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        sip_port = free_udp_tcp_port()
        with self.log_path.open("wb") as log:
            self._process = await asyncio.create_subprocess_exec(
                self.python,
                "-P",  # not the working directory's voicegate
                "-m",
                *self.program,
                *SERVE_FLAGS,
                "--sip-port",
                str(sip_port),
                *self.args,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
            )
        try:
            async with asyncio.timeout(self.start_timeout):
                address = await self._wait_until_listening(self._process, sip_port)
        except BaseException:
            await self.stop()
            raise
        self._drain = asyncio.create_task(self._discard_output(self._process))
        return address

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def pid(self) -> int:
        """The server's process id (its memory is in ``/proc/<pid>/status``)."""
        if self._process is None:
            raise RuntimeError("the gateway process is not started")
        return self._process.pid

    async def _wait_until_listening(
        self, process: asyncio.subprocess.Process, sip_port: int
    ) -> GatewayAddress:
        assert process.stdout is not None
        while line := (await process.stdout.readline()).decode(errors="replace"):
            if line.startswith(READY_LINE):
                return GatewayAddress.from_url(line[len(READY_LINE) :], sip_port)
        await process.wait()
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(
            f"voicegate serve exited with code {process.returncode} before listening: "
            + " | ".join(tail)
        )

    @staticmethod
    async def _discard_output(process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while await process.stdout.readline():
            pass

    async def stop(self) -> int | None:
        """SIGINT, then SIGKILL after :attr:`stop_timeout` seconds; returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), self.stop_timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
        if self._drain is not None:
            await self._drain
        return process.returncode


async def wait_accepting(address: GatewayAddress, seconds: float = 60.0) -> None:
    """Return once the gateway's ``/healthz`` says it admits sessions, or after ``seconds``.

    A gateway refuses new sessions for a while after its recogniser was overloaded (its
    load is measured over the last seconds): a benchmark level that starts at once after a
    heavy one would measure those refusals, not its own calls.
    """
    url = f"http://{address.host}:{address.port}/healthz"
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while not await asyncio.to_thread(_accepting, url):  # noqa: ASYNC110 (polls HTTP)
                await asyncio.sleep(0.5)


def _accepting(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read()
    except urllib.error.HTTPError as error:  # 503 when degraded: the body still says
        body = error.read()
    except OSError:
        return False
    return bool(json.loads(body).get("accepting"))


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 now (SIP listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port: int = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port

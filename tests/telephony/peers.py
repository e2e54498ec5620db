"""Real SIP peers for the tests, on loopback: Debian's SIPp (``sipp``) running XML scenarios,
and ``baresip``, a softphone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.recordings import WAV_HEADER_BYTES
from voicegate.audio.frame import AudioFrame
from voicegate.audio.g711 import G711Codec
from voicegate.audio.wav import read_wav, write_wav
from voicegate.bench.server import free_udp_tcp_port
from voicegate.telephony.sdp import CLOCK_RATE

SCENARIOS = Path(__file__).parent / "sipp"


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free on 127.0.0.1 for UDP (or ``kind``) now."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def write_g711(path: Path, audio: AudioFrame, codec: G711Codec, lead_s: float = 0.3) -> Path:
    """8 kHz ``audio`` as raw G.711 (what SIPp's rtp_stream sends), after ``lead_s`` of silence."""
    silence = np.zeros(round(audio.sample_rate * lead_s), np.int16)
    path.write_bytes(codec.encode(np.concatenate([silence, audio.samples.reshape(-1)])))
    return path


@dataclass
class SippRun:
    """How a SIPp run ended, and its logs."""

    returncode: int
    messages: str
    errors: str

    def __repr__(self) -> str:
        return f"sipp exited with {self.returncode}\n{self.errors}\n{self.messages[-6000:]}"


async def sipp(
    scenario: str,
    port: int,
    folder: Path,
    *,
    transport: str = "udp",
    replace: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    calls: int = 1,
    timeout_s: int = 60,
) -> SippRun:
    """Run the scenario ``sipp/<scenario>.xml`` (its ``@NAME@`` placeholders replaced; a line
    that is only a placeholder goes when it is replaced by nothing) against
    voicegate on ``127.0.0.1:port``, to the end; ``calls`` calls at once."""
    binary = shutil.which("sipp")
    assert binary is not None, "scripts/install-system-deps.sh installs sipp (sip-tester)"
    _write_scenario(folder, scenario, replace or {})
    command = [
        binary,
        f"127.0.0.1:{port}",
        "-sf",
        f"{scenario}.xml",
        "-t",
        "u1" if transport == "udp" else "t1",
        "-i",
        "127.0.0.1",
        "-mi",
        "127.0.0.1",
        "-mp",
        str(free_port()),
        "-p",
        str(free_port(socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM)),
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-r",
        str(max(calls, 1)),
        "-nostdin",
        "-timeout",
        f"{timeout_s}s",
        "-timeout_error",
        "-trace_msg",
        "-trace_err",
        *args,
    ]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=folder, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode is not None
    messages, errors = _logs(folder, "messages"), _logs(folder, "errors")
    return SippRun(process.returncode, messages, errors + stderr.decode(errors="replace"))


def _write_scenario(folder: Path, scenario: str, replace: dict[str, str]) -> None:
    text = (SCENARIOS / f"{scenario}.xml").read_text()
    for name, value in replace.items():
        text = text.replace(f"@{name}@" if value else f"@{name}@\n", value)  # empty: no line
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{scenario}.xml").write_text(text)


def _logs(folder: Path, kind: str) -> str:
    return "".join(path.read_text(errors="replace") for path in folder.glob(f"*_{kind}.log"))


BARESIP_CONFIG = """\
poll_method epoll
sip_listen 127.0.0.1:{sip_port}
net_interface 127.0.0.1
call_local_timeout 120
audio_buffer 20
audio_player aubridge,nil
audio_source aufile,{speech}
audio_alert aubridge,nil
ausrc_srate {rate}
auplay_srate {rate}
rtp_ports {rtp_low}-{rtp_high}
jitter_buffer_delay 1-3
snd_path {recordings}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module rtcpsummary.so
module_tmp account.so
module_app menu.so
module_app ctrl_tcp.so
ctrl_tcp_listen 127.0.0.1:{control_port}
"""


class Baresip:
    """Debian's baresip as a phone on loopback, driven over its ``ctrl_tcp`` JSON interface.

    Its microphone plays ``speech`` (8 kHz, then silence for the rest of the call: baresip
    hangs up when its WAV ends); ``sndfile`` records what it hears, ``rtcpsummary`` logs the
    RTCP statistics of each call. ``async with``.
    """

    def __init__(self, folder: Path, speech: AudioFrame, codec: str = "PCMU") -> None:
        self.folder = folder
        self._speech = speech
        self._codec = codec
        self.events: list[dict[str, object]] = []
        self._changed = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Baresip:
        binary = shutil.which("baresip")
        assert binary is not None, "scripts/install-system-deps.sh installs baresip-core"
        control_port = free_port(socket.SOCK_STREAM)
        await asyncio.to_thread(self._write_config, control_port)
        with (self.folder / "baresip.log").open("wb") as log:  # the child keeps its own copy
            self._process = await asyncio.create_subprocess_exec(
                binary, "-f", str(self.folder), "-v", stdout=log, stderr=log
            )
        async with asyncio.timeout(20):
            while True:
                try:
                    reader, self._writer = await asyncio.open_connection("127.0.0.1", control_port)
                    break
                except OSError:
                    if self._process.returncode is not None:  # it quit: say why, at once
                        log_text = (self.folder / "baresip.log").read_text(errors="replace")
                        raise RuntimeError(f"baresip quit at start-up:\n{log_text}") from None
                    await asyncio.sleep(0.1)
        self._reader_task = asyncio.create_task(self._read(reader))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._writer is not None:
            self.command("quit")
        if self._process is not None:
            try:
                await asyncio.wait_for(self._process.wait(), 10)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)

    def command(self, name: str, params: str = "") -> None:
        """Send a menu command (``dial``, ``sndcode``, ``hangup``, ``quit``)."""
        assert self._writer is not None
        body = json.dumps({"command": name, "params": params, "token": name}).encode()
        self._writer.write(f"{len(body)}:".encode() + body + b",")

    async def wait_event(self, kind: str, seconds: float = 30.0) -> dict[str, object]:
        """The first event of type ``kind`` (``CALL_ESTABLISHED``, ``CALL_CLOSED``...)."""
        async with asyncio.timeout(seconds):
            while not (found := [e for e in self.events if e.get("type") == kind]):
                self._changed.clear()
                await self._changed.wait()
        return found[0]

    def log(self) -> str:
        """What baresip printed (its ``rtcpsummary`` line ends each call)."""
        return (self.folder / "baresip.log").read_text(errors="replace")

    def heard(self) -> AudioFrame:
        """What baresip heard in its last call (decoded, 8 kHz)."""
        recordings = self._recordings()
        assert recordings, f"baresip recorded nothing; see {self.folder / 'baresip.log'}"
        return read_wav(recordings[-1])

    async def wait_heard(self, duration: float, seconds: float = 30.0) -> None:
        """Wait until its last call's recording holds ``duration`` s of audio. baresip plays,
        and records, in real time from the call's start, behind what was sent to it by as
        much as a loaded machine holds it up (all of a 1.3 s answer, once)."""
        async with asyncio.timeout(seconds):
            while True:
                recordings = self._recordings()
                size = recordings[-1].stat().st_size if recordings else 0
                if (size - WAV_HEADER_BYTES) / 2 >= duration * CLOCK_RATE:
                    return
                await asyncio.sleep(0.05)

    def _recordings(self) -> list[Path]:
        return sorted((self.folder / "recordings").glob("*-dec.wav"))

    def _write_config(self, control_port: int) -> None:
        (self.folder / "recordings").mkdir(parents=True, exist_ok=True)
        tail = np.zeros(self._speech.sample_rate * 30, np.int16)  # the call outlasts the test
        lead = np.zeros(self._speech.sample_rate // 2, np.int16)
        samples = np.concatenate([lead, self._speech.samples.reshape(-1), tail])
        write_wav(self.folder / "speech.wav", AudioFrame(samples, self._speech.sample_rate))
        rtp_low = free_port()
        config = BARESIP_CONFIG.format(
            sip_port=free_udp_tcp_port(),  # its SIP stack listens on both (CI133)
            rate=CLOCK_RATE,
            speech=self.folder / "speech.wav",
            rtp_low=rtp_low,
            rtp_high=rtp_low + 20,
            recordings=self.folder / "recordings",
            control_port=control_port,
        )
        (self.folder / "config").write_text(config)
        account = f"<sip:alice@127.0.0.1>;regint=0;audio_codecs={self._codec}\n"
        (self.folder / "accounts").write_text(account)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ValueError):
            while True:
                length = await reader.readuntil(b":")
                message = await reader.readexactly(int(length[:-1]) + 1)  # and its ","
                parsed = json.loads(message[:-1])
                if parsed.get("event"):
                    self.events.append(parsed)
                    self._changed.set()

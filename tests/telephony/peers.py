"""Real SIP peers for the tests: Debian's SIPp (``sipp``) running XML scenarios on loopback."""

from __future__ import annotations

import asyncio
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.audio.g711 import G711Codec

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

"""The README as a new user follows it: the set-up's install into a fresh virtualenv, then each
command of the "Using it" table once, as written. None may crash; each says what it did."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from voicegate.server.app import READY_LINE

# the first test also makes the virtualenv: a fresh install takes minutes on a loaded machine
pytestmark = [pytest.mark.models, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "Please leave a message after the tone."
TRACEBACK = "Traceback (most recent call last)"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with what ``scripts/serve.sh`` installs (the ``serve`` extra)."""
    folder = tmp_path_factory.mktemp("new-user") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    install = subprocess.run(
        [str(folder / "bin" / "python"), "-m", "pip", "install", "-q", "-e", f"{ROOT}[serve]"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert install.returncode == 0, install.stderr[-4000:]
    return folder


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "VOICEGATE_DATA_DIR": str(home / "data")}


def voicegate(venv: Path, home: Path, *args: str, timeout: float = 600) -> tuple[int, str, str]:
    """Run ``voicegate ARGS`` from the fresh virtualenv in ``home``; exit code, stdout, stderr."""
    done = subprocess.run(
        [str(venv / "bin" / "voicegate"), *args],
        cwd=home,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert TRACEBACK not in done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def served(venv: Path, home: Path) -> Iterator[tuple[str, list[str]]]:
    """``voicegate serve`` from the fresh virtualenv: its page URL and its other stdout lines."""
    process = subprocess.Popen(
        [str(venv / "bin" / "voicegate"), "serve", "--port", "0"],
        cwd=home,
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        first = process.stdout.readline()
        assert first.startswith(READY_LINE), first + process.stderr.read()
        yield first[len(READY_LINE) :].strip(), [process.stdout.readline().strip()]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert TRACEBACK not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_prints_the_url_then_how_to_get_a_fresh_one(
    venv: Path, home: Path, served: tuple[str, list[str]]
) -> None:
    url, lines = served
    with urllib.request.urlopen(url, timeout=10) as response:
        assert b"voicegate" in response.read()
    hint = lines[0]
    assert hint.startswith("the open page renews its token; for a fresh link: voicegate token")
    port = re.search(r":(\d+)/", url)
    assert port is not None
    assert f"--port {port.group(1)}" in hint
    code, out, _ = voicegate(venv, home, *hint.split("for a fresh link: voicegate ")[1].split())
    assert code == 0
    fresh = out.strip()
    assert fresh.startswith(f"http://127.0.0.1:{port.group(1)}/?token=")
    assert fresh != url
    renew = urllib.request.Request(
        f"http://127.0.0.1:{port.group(1)}/token/renew",
        b"",
        {"Authorization": "Bearer " + fresh.split("token=")[1]},
    )
    with urllib.request.urlopen(renew, timeout=10) as response:  # the server takes the fresh one
        assert response.status == 200


def test_every_other_command_of_the_table_runs_as_written(venv: Path, home: Path) -> None:
    code, out, _ = voicegate(venv, home, "models")
    assert code == 0
    assert "installed" in out

    code, _, _ = voicegate(venv, home, "say", SENTENCE, "-o", "out.wav")
    assert code == 0
    spoken = home / "say-44k-stereo.flac"
    _reencode(home / "out.wav", spoken, rate=44100, layout="stereo")
    code, out, _ = voicegate(venv, home, "transcribe", str(spoken))
    assert code == 0
    assert out.strip().lower().rstrip(".") == SENTENCE.lower().rstrip(".")

    code, out, _ = voicegate(venv, home, "token", "alice", "--ttl", "60")
    assert code == 0
    assert out.count(".") == 1

    # the serve extra has no sounddevice: mic says what to install on one line
    code, out, err = voicegate(venv, home, "mic")
    assert code == 1
    assert err.strip().count("\n") == 0
    assert "pip install" in err

    code, out, err = voicegate(
        venv, home, "bench", "--clients", "1", "--turns", "1", "--transports", "websocket",
        "--out", "results",
    )  # fmt: skip
    assert code == 0, err[-3000:]
    assert (home / "results" / "voice_latency.json").exists()
    assert not (home / "results" / "voice_latency.png").exists()
    assert "no plot: matplotlib is missing" in err


def _reencode(source: Path, target: Path, *, rate: int, layout: str) -> None:
    """``source`` as FLAC at ``rate`` Hz in ``layout``: not the 16-bit mono WAV Piper writes."""
    with av.open(str(source)) as reader:
        frames = [frame.to_ndarray() for frame in reader.decode(audio=0)]
        source_rate = reader.streams.audio[0].rate
    mono = np.concatenate([frame.reshape(-1) for frame in frames]).astype(np.int16)
    resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
    with av.open(str(target), "w") as writer:
        stream = writer.add_stream("flac", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(mono.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = source_rate
        for converted in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(converted):
                writer.mux(packet)
        for packet in stream.encode(None):
            writer.mux(packet)

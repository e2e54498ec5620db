"""--log-level and VOICEGATE_LOG_LEVEL: voicegate's lines at the level chosen, libraries' hidden."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

from tests.servers import LOG_LINE
from voicegate.cli import build_parser
from voicegate.cli.logs import LOG_FORMAT

# what a call logs: aioice's ICE checks, uvicorn's connection lines, and voicegate's call line
_LOG_SOME = """
import logging, sys
from voicegate.cli import build_parser
from voicegate.cli.logs import configure_logging
configure_logging(build_parser().parse_args([*sys.argv[1:], "models"]).log_level)
for name in ("aioice.ice", "aiortc.rtcpeerconnection", "uvicorn.error", "voicegate.voice.gateway"):
    logging.getLogger(name).info("info from %s", name)
    logging.getLogger(name).debug("debug from %s", name)
"""


def _logged(*args: str, env: dict[str, str] | None = None) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOG_SOME, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return [line.split(": ", 1)[1] for line in done.stderr.splitlines()]


def test_by_default_only_voicegate_logs_at_info() -> None:
    assert _logged() == ["info from voicegate.voice.gateway"]


def test_warning_hides_voicegate_info_too() -> None:
    assert _logged("--log-level", "warning") == []


def test_debug_from_the_environment_shows_everything() -> None:
    lines = _logged(env={"VOICEGATE_LOG_LEVEL": "debug"})
    assert "info from aioice.ice" in lines
    assert "debug from uvicorn.error" in lines
    assert "debug from voicegate.voice.gateway" in lines


def test_a_flag_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEGATE_LOG_LEVEL", "debug")
    assert build_parser().parse_args(["--log-level", "ERROR", "models"]).log_level == "error"


@pytest.mark.parametrize("source", ["flag", "environment"])
def test_an_unknown_level_is_refused_with_the_choices(
    source: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["models"]
    if source == "flag":
        args = ["--log-level", "loud", *args]
    else:
        monkeypatch.setenv("VOICEGATE_LOG_LEVEL", "loud")
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(args)
    assert exited.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error == (
        "voicegate: error: argument --log-level: 'loud' (from the flag or VOICEGATE_LOG_LEVEL) "
        "is not one of debug, info, warning, error"
    )


def test_the_tests_read_the_logger_name_from_a_log_line() -> None:
    record = logging.LogRecord("voicegate.voice.listener", logging.DEBUG, "", 0, "a: b", (), None)
    line = logging.Formatter(LOG_FORMAT).format(record)
    match = LOG_LINE.match(line)
    assert match is not None, line
    assert match.group(1) == "voicegate.voice.listener"

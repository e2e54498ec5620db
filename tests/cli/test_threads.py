"""Every ``voicegate`` command gives numpy's OpenBLAS one thread (its spare threads spin)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from voicegate.cli.threads import BLAS_THREADS_ENV, limit_blas_threads

_THREADS_AFTER = """
import os, sys
if sys.argv[1] == "command":
    from voicegate.cli import main
    try:
        main(["models", "--help"])
    except SystemExit:
        pass
import numpy
print(len(os.listdir("/proc/self/task")), os.environ.get("{env}"))
""".replace("{env}", BLAS_THREADS_ENV)


def _threads(how: str) -> str:
    env = {key: value for key, value in os.environ.items() if key != BLAS_THREADS_ENV}
    done = subprocess.run(
        [sys.executable, "-c", _THREADS_AFTER, how],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]  # after "--help"'s text


def test_a_command_leaves_numpy_one_thread() -> None:
    assert _threads("command") == "1 1"


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="OpenBLAS starts no thread on one core")
def test_without_it_numpy_starts_a_thread_per_core() -> None:
    threads, env = _threads("numpy alone").split()
    assert int(threads) > 1
    assert env == "None"


def test_a_value_set_by_the_user_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BLAS_THREADS_ENV, "4")
    limit_blas_threads()
    assert os.environ[BLAS_THREADS_ENV] == "4"


def test_unset_it_becomes_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BLAS_THREADS_ENV, raising=False)
    limit_blas_threads()
    assert os.environ[BLAS_THREADS_ENV] == "1"

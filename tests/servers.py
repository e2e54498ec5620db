"""`voicegate serve` as a subprocess, for tests that use the gateway as users run it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from voicegate.server.app import READY_LINE

URL_LINE = re.compile(re.escape(READY_LINE) + r"(http://127\.0\.0\.1:(\d+)/\S*)")


@contextmanager
def running_server(*args: str) -> Iterator[tuple[str, int]]:
    """Start `voicegate serve` and yield its printed URL and port; stop it with SIGINT.

    Its data folder (store and token secret) is a temporary one unless ``args`` name one.
    """
    command = [sys.executable, "-m", "voicegate", "serve", "--port", "0", *args]
    # the server's log goes to a file: a pipe that nobody reads would fill and stall it
    with tempfile.TemporaryFile(mode="w+") as log, tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "VOICEGATE_DATA_DIR": data}
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=env, text=True)
        try:
            assert process.stdout is not None
            match = URL_LINE.search(process.stdout.readline())
            if match is None:
                log.seek(0)
                raise AssertionError(f"voicegate serve printed no URL; its log:\n{log.read()}")
            yield match.group(1), int(match.group(2))
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()

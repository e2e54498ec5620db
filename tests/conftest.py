"""Fixtures shared by every test folder: the real speech models, loaded once per session."""

# ruff: noqa: E402  (numpy's BLAS is limited before any import loads numpy)
from __future__ import annotations

from voicegate.cli.threads import limit_blas_threads

# the gateways served in-process run as `voicegate serve` runs them: before numpy loads
limit_blas_threads()

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.audio.wav import read_wav
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A command run in-process (``main([...])``) points logging at the stderr pytest
    captures for that one test, and sets levels: take that handler away and put every
    logger's level back, so no later test logs to a closed stream."""
    root = logging.getLogger()
    before = set(root.handlers)
    loggers = [
        root,
        *(v for v in root.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    levels = [(logger, logger.level) for logger in loggers]
    yield
    for handler in root.handlers[:]:
        if type(handler) is logging.StreamHandler and handler not in before:
            root.removeHandler(handler)
    for logger, level in levels:
        logger.setLevel(level)


@pytest.fixture(scope="session")
def stt() -> Iterator[FasterWhisperSTT]:
    """Whisper tiny.en, shared by the tests: partials are never skipped for being busy, so
    what earlier tests made the model do does not decide whether a test gets its partials
    (the skipping is tested on its own)."""
    provider = FasterWhisperSTT(partial_busy_limit=None)
    asyncio.run(provider.warm_up())
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def stt_base() -> Iterator[FasterWhisperSTT]:
    """Whisper base, the multilingual recogniser (joined into the model cache once)."""
    provider = FasterWhisperSTT("whisper-base", partial_busy_limit=None)
    asyncio.run(provider.warm_up())
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def tts() -> Iterator[PiperTTS]:
    provider = PiperTTS()
    asyncio.run(provider.warm_up())
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def espeak(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], AudioFrame]:
    """``say(text)``: ``text`` spoken by espeak-ng (US English, 22.05 kHz), a second voice
    beside Piper's."""
    binary = shutil.which("espeak-ng")
    assert binary is not None, "espeak-ng is installed by scripts/install-system-deps.sh"
    folder = tmp_path_factory.mktemp("espeak")

    def say(text: str) -> AudioFrame:
        wav = folder / f"{abs(hash(text))}.wav"
        subprocess.run([binary, "-v", "en-us", "-w", str(wav), text], check=True)
        return read_wav(wav)

    return say

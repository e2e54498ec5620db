"""Fixtures shared by every test folder: the real speech models, loaded once per session."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Callable, Iterator

import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.audio.wav import read_wav
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS


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

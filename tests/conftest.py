"""Fixtures shared by every test folder: the real speech models, loaded once per session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS


@pytest.fixture(scope="session")
def stt() -> Iterator[FasterWhisperSTT]:
    provider = FasterWhisperSTT()
    asyncio.run(provider.warm_up())
    yield provider
    provider.close()


@pytest.fixture(scope="session")
def tts() -> Iterator[PiperTTS]:
    provider = PiperTTS()
    asyncio.run(provider.warm_up())
    yield provider
    provider.close()

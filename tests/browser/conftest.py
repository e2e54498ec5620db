"""A real headless Chromium (Debian's ``chromium``) whose fake microphone plays a Piper sentence.

Playwright's async API on pytest-asyncio's session loop: its objects belong to the loop that made
them, and the sync API would leave a running loop behind that breaks every later asyncio test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.audio.wav import write_wav
from voicegate.bench.browser_client import CHROMIUM, FAKE_MIC_RATE, chromium_flags
from voicegate.tts.piper import PiperTTS

SENTENCE = "The quick brown fox jumps over the lazy dog."
LEADING_SILENCE_S = 1.0  # capture starts at getUserMedia, before the call is connected
TRAILING_SILENCE_S = 2.0  # long enough for the endpointer to close the utterance


def _silence(seconds: float) -> npt.NDArray[np.int16]:
    return np.zeros(round(FAKE_MIC_RATE * seconds), np.int16)


RECORD_MIC_CONSTRAINTS = """
const askMicrophone = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (constraints) => {
  window.micConstraints = constraints;
  return askMicrophone(constraints);
};
"""


async def fake_mic_wav(tts: PiperTTS, path: Path, script: list[float | str]) -> Path:
    """A WAV for the fake microphone: ``script`` items are seconds of silence or sentences."""
    parts = []
    for item in script:
        if isinstance(item, float):
            parts.append(_silence(item))
        else:
            spoken = resample(await tts.synthesize(item), FAKE_MIC_RATE)
            parts.append(spoken.samples.reshape(-1))
    write_wav(path, AudioFrame(np.concatenate(parts), FAKE_MIC_RATE))
    return path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def speech_wav(tts: PiperTTS, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``SENTENCE`` spoken by Piper at 48 kHz mono, between silences, for the fake microphone."""
    folder = tmp_path_factory.mktemp("fake-mic")
    script: list[float | str] = [LEADING_SILENCE_S, SENTENCE, TRAILING_SILENCE_S]
    return await fake_mic_wav(tts, folder / "sentence.wav", script)


def fake_mic_flags(wav: Path) -> list[str]:
    """Chromium's flags for a loopback-only, headless machine with ``wav`` as microphone."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install the Debian package (scripts/install-system-deps.sh)"
        )
    return chromium_flags(wav)


@asynccontextmanager
async def launched_chromium(wav: Path) -> AsyncIterator[Browser]:
    """Headless Chromium whose every ``getUserMedia`` plays ``wav`` once."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=fake_mic_flags(wav)
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(speech_wav: Path) -> AsyncIterator[Browser]:
    """Headless Chromium whose every ``getUserMedia`` plays the sentence once."""
    async with launched_chromium(speech_wav) as launched:
        yield launched


@asynccontextmanager
async def new_page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page in its own context; ``window.micConstraints`` keeps what it asked for."""
    context = await browser.new_context()
    await context.add_init_script(RECORD_MIC_CONSTRAINTS)
    yield await context.new_page()
    await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page on the session's browser."""
    async with new_page(browser) as fresh:
        yield fresh

"""Barge-in from the page: the caller talks over the answer and the page stops playing it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.browser.conftest import fake_mic_wav, launched_chromium, new_page
from tests.browser.pages import call, page_state, wait
from tests.servers import running_server
from voicegate.stt.wer import word_error_rate
from voicegate.tts.piper import PiperTTS

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.asyncio(loop_scope="session")]

REQUEST = (
    "Please read me the whole weather report for the northern coast and the islands tonight "
    "and then the roads and the ferries and the tides and the winds and the rain and the snow "
    "and the fog and the frost on the hills and the bridges for the whole long weekend ahead."
)
INTERRUPTION = "Wait a moment please."


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def interrupting_browser(
    tts: PiperTTS, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Browser]:
    """A browser whose microphone asks a long question, then talks over the echoed answer.

    The pause before the interruption leaves a loaded machine time to start the answer (its
    recognition and first synthesis took over 4 s under a load average of 20); the echo of the
    request (one sentence without a comma, where Piper pauses long enough to end a turn) lasts
    about 12 s, longer than the pause by more than the 2 s the test asks to be cut, so the
    interruption lands in its middle however soon the answer starts. (At about 9 s, a loaded
    CI machine took 4.4 s to confirm the interruption, and only 1.8 s of the answer was cut.)
    """
    wav = await fake_mic_wav(
        tts,
        tmp_path_factory.mktemp("barge-in") / "interrupt.wav",
        [1.0, REQUEST, 6.5, INTERRUPTION, 2.0],
    )
    async with launched_chromium(wav) as browser:
        yield browser


async def test_talking_over_the_answer_interrupts_it_from_the_page(
    interrupting_browser: Browser, tts: PiperTTS
) -> None:
    with running_server("--store", "memory", debug=True) as (url, _):
        async with new_page(interrupting_browser) as page:
            await call(page, url, "websocket")
            await wait(page, "() => window.voicegate.transcripts.length >= 2")
            state = await page_state(page)
        # (inside the server's block: a failure shows its log)
        turns = {key: state[key] for key in ("transcripts", "turns", "interruptions", "ignored")}
        assert state["bargeIns"] == 1, turns
        # the page shows which interruption happened (the default strategy, over the answer)
        assert state["interruptions"] == [{"during": "speaking", "strategy": "semantic"}]
        assert state["errors"] == []
        first, second = state["transcripts"][:2]
        assert word_error_rate([(REQUEST, first)]) <= 0.2, first
        assert word_error_rate([(INTERRUPTION, second)]) <= 0.25, second
        # the echo of the long request was cut: far less of it arrived than it lasts
        echo_ms = 1000 * (await tts.synthesize(first)).duration
        heard = {key: state[key] for key in ("turns", "answers", "answerAudioMs")}
        assert 0 < state["answerAudioMs"] < echo_ms - 2000, heard
        # the page's played marks told the server how much it played: the cut answer's heard part
        [cut] = state["heard"]
        assert 0 < cut["interrupted_at_ms"] <= state["answerAudioMs"], (cut, heard)
        said, spoken = cut["text"].split(), state["answers"][0].split()
        assert said == spoken[: len(said)], (cut, heard)

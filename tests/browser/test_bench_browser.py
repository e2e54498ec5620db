"""``voicegate bench``'s browser caller through the real thing: a real server, headless Chromium
on the call page over WebRTC, one Piper sentence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import SENTENCE
from tests.servers import running_server
from voicegate.bench.runner import BenchConfig, run_levels
from voicegate.bench.server import GatewayAddress
from voicegate.bench.speech import make_clips
from voicegate.stt.wer import normalize
from voicegate.tts.piper import PiperTTS

pytestmark = [pytest.mark.browser, pytest.mark.models, pytest.mark.asyncio(loop_scope="session")]


async def test_a_browser_turn_brings_back_its_transcript_and_the_page_times_its_answer(
    tts: PiperTTS, tmp_path: Path
) -> None:
    clips = await make_clips(tts, tmp_path, (SENTENCE,))
    config = BenchConfig(clients=(1,), turns=1, transports=("browser",))
    with running_server("--anonymous", "--store", "memory") as (url, _):
        [turn] = await run_levels(config, [GatewayAddress.from_url(url)], clips)

    assert turn.error is None, turn
    assert turn.transcript is not None
    assert turn.wer is not None
    # heard whole, to its last word (a turn ended early has fewer), two words of nine misheard at
    # most: CI158, beside a CPU burner, heard "The quit brown fox chumps over the lazy dog."
    said = normalize(SENTENCE).split()
    assert len(normalize(turn.transcript).split()) == len(said), turn.transcript
    assert turn.wer <= 2 / len(said), (turn.transcript, turn)  # the text first: the repr is cut
    # the page's own figures, from the microphone's last loud sample: the transcript came
    # before the answer's first sound
    assert 0 < turn.client_ms["transcript"] < turn.client_ms["first_audio"], turn
    assert set(turn.server_ms) == {"endpoint", "stt", "room", "tts", "total"}

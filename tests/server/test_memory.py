"""One client cannot grow the server: long unpunctuated text, typed with ``say`` by several
clients at once and spoken back by Piper, against a real `voicegate serve`, with its memory
read from /proc.

Typed text is how a client gets long text spoken now: speech sent faster than real time is
dropped past a short allowance, so a flood of speech no longer reaches Piper as one long
piece. Checked both ways, three runs each beside a CPU-bound process: with answers cut into
pieces the long answers grew the server by 39-100 MiB; with the cut disabled
(``MAX_PIECE_WORDS`` and ``MAX_PIECE_CHARS`` made huge) by 369-637 MiB. The flood this test
used before let the cut be disabled unnoticed (45 MiB of growth).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from tests.voice.conftest import voice_client
from voicegate.bench.load import CallerLog, rss_mib, talk
from voicegate.bench.server import GatewayAddress, GatewayProcess
from voicegate.bench.speech import SENTENCES, make_clips
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models

LONG_WITHOUT_PUNCTUATION = " ".join(
    ["please turn on the kitchen lights and then play some quiet music in the living room"] * 4
)
"""About 16 s of Piper's speech, no punctuation: one 64-word piece unless cut by length.
Spoken whole two or three times, Piper alone kept 418-435 MiB more (in one process; 40 MiB
cut)."""
LONG_WITH_PUNCTUATION = LONG_WITHOUT_PUNCTUATION.replace(" and then", ". And then").replace(
    " room", " room."
)
"""The same words in short sentences, as a long answer to a normal caller."""
TYPISTS = 3
ALLOWED_GROWTH_MIB = 200.0
"""What the long answers may add to the server."""
KEPT_SAMPLES = 10
"""RSS readings, a second apart, whose lowest is the memory the server kept: a reading
taken while a model works holds its passing buffers (tens of MiB in a soak)."""
ANSWER_TIMEOUT_S = 120.0
"""How long a typist waits for its answer to be played out (16 s of audio, paced)."""


async def _kept_mib(pid: int) -> float:
    readings = []
    for _ in range(KEPT_SAMPLES):
        readings.append(rss_mib(pid))
        await asyncio.sleep(1.0)
    return min(readings)


async def _say(address: GatewayAddress, text: str) -> None:
    """Type ``text`` with protocol 2's ``say`` and wait until its answer has been played."""
    async with (
        asyncio.timeout(ANSWER_TIMEOUT_S),
        voice_client(address.websocket_url, {"protocol": 2}) as client,
    ):
        await client.connection.send(json.dumps({"type": "say", "text": text}))
        await client.wait_for("tts_end")
        spoken = "".join(m["text"] for m in client.received.of_type("tts_start"))
    assert text in spoken, spoken  # the whole text was spoken as its answer


@pytest.mark.timeout(600)  # a server, two rounds of 16 s answers, readings, a spoken turn
async def test_long_unpunctuated_answers_do_not_grow_the_server(
    tmp_path: Path, tts: PiperTTS
) -> None:
    clips = await make_clips(tts, tmp_path / "clips", SENTENCES[:1])
    args = ("--store", "sqlite", "--data-dir", str(tmp_path / "data"))
    server = GatewayProcess(tmp_path / "serve.log", args=args)
    async with server as address:
        # warm-up: a spoken turn, and long answers in short sentences from as many typists
        warm_up = CallerLog()
        await asyncio.gather(
            talk(address, clips, time.monotonic() + 1.0, warm_up),
            *(_say(address, LONG_WITH_PUNCTUATION) for _ in range(TYPISTS)),
        )
        assert warm_up.turns, warm_up
        assert warm_up.turns[0].event_ids, warm_up
        before = await _kept_mib(server.pid)
        await asyncio.gather(*(_say(address, LONG_WITHOUT_PUNCTUATION) for _ in range(TYPISTS)))
        after = await _kept_mib(server.pid)

        bystander = CallerLog()  # the server still serves a normal caller
        await talk(address, clips, time.monotonic() + 1.0, bystander)
        assert bystander.turns, bystander
        assert bystander.turns[0].event_ids, bystander
        log = server.log_path.read_text()
    print(f"RSS after the warm-up {before:.0f} MiB, after the long answers {after:.0f} MiB")
    assert after - before < ALLOWED_GROWTH_MIB, (before, after)
    assert "Traceback" not in log
    assert "was never retrieved" not in log

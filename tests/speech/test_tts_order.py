"""PiperTTS takes its pieces in the order their audio is needed (a stand-in for the voice)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.inference import WorkerOverloadedError
from voicegate.testing import FakeClock
from voicegate.tts.piper import PLAYOUT_MARGIN_S, PiperTTS

RATE = 16000
PIECE_S = 2.0
ANSWER = "One two three four. Five six seven eight."  # two pieces
OTHER = "Nine ten eleven twelve."


class Voice:
    """Stands in for Piper's synthesis: :data:`PIECE_S` of silence a piece, in ``spoken``
    order; the piece "Hold." keeps the worker until :meth:`release`."""

    def __init__(self) -> None:
        self.spoken: list[str] = []
        self.holding = threading.Event()
        self._released = threading.Event()

    def __call__(self, text: str) -> AudioFrame:
        self.spoken.append(text)
        if text == "Hold.":
            self.holding.set()
            self._released.wait(30)
        return AudioFrame(np.zeros(int(PIECE_S * RATE), dtype=np.int16), RATE)

    def release(self) -> None:
        self._released.set()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def voice() -> Voice:
    return Voice()


def piper(tmp_path: Path, clock: FakeClock, voice: Voice, max_queue: int = 256) -> PiperTTS:
    model = tmp_path / "voice.onnx"
    model.write_bytes(b"")
    (tmp_path / "voice.onnx.json").write_text(json.dumps({"audio": {"sample_rate": RATE}}))
    tts = PiperTTS(str(model), max_queue=max_queue, clock=clock)
    tts._synthesize_text = voice  # type: ignore[method-assign]
    return tts


@pytest.fixture
def tts(tmp_path: Path, clock: FakeClock, voice: Voice) -> Iterator[PiperTTS]:
    running = piper(tmp_path, clock, voice)
    yield running
    voice.release()
    running.close()


async def held(tts: PiperTTS, voice: Voice) -> asyncio.Task[AudioFrame]:
    """Another session's piece holding the worker: the pieces given now wait."""
    task = asyncio.create_task(tts.synthesize("Hold."))
    await asyncio.to_thread(voice.holding.wait, 30)
    return task


async def started_answer(tts: PiperTTS) -> AsyncGenerator[AudioFrame, None]:
    """An answer whose first piece has been yielded (to be played from the clock's now)."""
    stream = tts.synthesize_stream(ANSWER)
    await anext(stream)
    return stream


async def test_a_first_piece_goes_ahead_of_a_later_piece_not_needed_yet(
    tts: PiperTTS, voice: Voice
) -> None:
    answer = await started_answer(tts)  # played out at 2.0: its next piece is needed at 0.5
    hold = await held(tts, voice)
    later = asyncio.create_task(anext(answer))
    await asyncio.sleep(0)
    first = asyncio.create_task(anext(tts.synthesize_stream(OTHER)))
    await asyncio.sleep(0)
    voice.release()
    await asyncio.gather(hold, later, first)
    assert voice.spoken == ["One two three four.", "Hold.", OTHER, "Five six seven eight."]


async def test_a_later_piece_whose_time_has_come_is_not_overtaken(
    tts: PiperTTS, voice: Voice, clock: FakeClock
) -> None:
    answer = await started_answer(tts)
    hold = await held(tts, voice)
    later = asyncio.create_task(anext(answer))
    first = asyncio.create_task(anext(tts.synthesize_stream(OTHER)))
    await asyncio.sleep(0)
    clock.advance(PIECE_S - PLAYOUT_MARGIN_S)  # the answer's next piece is needed now
    voice.release()
    await asyncio.gather(hold, later, first)
    assert voice.spoken == ["One two three four.", "Hold.", "Five six seven eight.", OTHER]


async def test_past_max_queue_a_piece_is_refused(
    tmp_path: Path, clock: FakeClock, voice: Voice
) -> None:
    tts = piper(tmp_path, clock, voice, max_queue=1)
    try:
        hold = await held(tts, voice)
        waiting = asyncio.create_task(tts.synthesize("Waiting."))
        await asyncio.sleep(0)
        with pytest.raises(WorkerOverloadedError, match="max_waiting=1"):
            await anext(tts.synthesize_stream(OTHER))
        voice.release()
        await asyncio.gather(hold, waiting)
        assert voice.spoken == ["Hold.", "Waiting."]
    finally:
        voice.release()
        tts.close()

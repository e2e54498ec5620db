"""What every transport's recorded-call test checks of the recording it left."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from voicegate import RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.core.models import AudioContent, RoomEvent
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.voice.recording import RecordingInfo

WAV_HEADER_BYTES = 44
"""Where the samples of a plain PCM WAV file start."""
LOUD = 500  # int16: speech, not the resampler's ripple or digital silence
LENGTH_TOLERANCE_S = 0.1
"""How far a recording's length may stray outside the bounds a client knows of its call."""


def channels(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """The left and right channels of a recording (any format PyAV reads) and its rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [
            frame.to_ndarray().reshape(-1, 2) if frame.format.is_packed else frame.to_ndarray().T
            for frame in container.decode(stream)
        ]
        rate = stream.rate
    samples = np.concatenate(chunks)
    if samples.dtype != np.int16:  # Opus decodes to float
        samples = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
    return samples[:, 0].copy(), samples[:, 1].copy(), rate


async def heard(stt: FasterWhisperSTT, samples: np.ndarray, rate: int) -> str:
    """What the recogniser hears in one channel."""
    return (await stt.transcribe(AudioFrame(samples, rate))).text


def speech_end_s(frame: AudioFrame) -> float:
    """Where the last loud sample of what a caller sent lies, in seconds from its start."""
    loud = np.flatnonzero(np.abs(frame.samples.astype(np.int32)).max(axis=1) > LOUD)
    return float(loud[-1] + 1) / frame.sample_rate


def recording_of(events: list[RoomEvent]) -> tuple[RoomEvent, AudioContent]:
    """The one recording event among a room's events, and its content."""
    [event] = [e for e in events if isinstance(e.content, AudioContent)]
    assert isinstance(event.content, AudioContent)
    return event, event.content


@asynccontextmanager
async def session_end(kit: RoomKit) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A wait for the end of the next voice session (its recording posted by then)."""
    ended = asyncio.Event()

    async def on_end(event: Any) -> None:
        ended.set()

    kit.on("voice_session_ended")(on_end)

    async def wait() -> None:
        async with asyncio.timeout(60):
            await ended.wait()

    yield wait


async def until_finished(folder: Path) -> None:
    """Wait until a recording in ``folder`` is described as complete (its call has ended)."""

    def finished() -> bool:
        return any(RecordingInfo.load(path).complete for path in folder.glob("*.json"))

    async with asyncio.timeout(30):
        while not await asyncio.to_thread(finished):  # noqa: ASYNC110 - a file
            await asyncio.sleep(0.01)


async def check_recording(
    judge: FasterWhisperSTT,
    folder: Path,
    content: AudioContent,
    *,
    caller_said: str,
    answered: str,
    call_at_least_s: float,
    call_at_most_s: float,
) -> None:
    """The recording ``content`` points to, in ``folder``: a 16 kHz stereo WAV as long as the
    call, the caller's words on the left, the answer on the right after them, as ``judge`` hears
    them. Pass Whisper base (``stt_base``), a judge stronger than the server's tiny.en: Piper
    renders each answer anew, and tiny.en heard one intact recorded answer at 8 kHz as "You're
    caulk and not be completed as dialed." (CI), which base heard right.

    A client knows its call's length only within bounds that a loaded machine cannot break:
    at least until the end of the caller's speech (sent in real time once the call was
    open), at most its whole stay, from before connecting until the server said the call
    had ended."""
    recording_id = content.url.removeprefix("/recordings/")
    assert content.url == f"/recordings/{recording_id}"
    assert content.mime_type == "audio/wav"
    path = folder / f"{recording_id}.wav"
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, 16000, 2)
    left, right, rate = channels(path)
    length = len(left) / rate
    assert call_at_least_s - LENGTH_TOLERANCE_S <= length <= call_at_most_s + LENGTH_TOLERANCE_S
    assert content.duration_seconds == pytest.approx(length, abs=0.001)
    assert word_error_rate([(caller_said, await heard(judge, left, rate))]) <= 0.2
    assert word_error_rate([(answered, await heard(judge, right, rate))]) <= 0.2
    caller_loud = np.flatnonzero(np.abs(left.astype(np.int32)) > LOUD)
    answer_loud = np.flatnonzero(np.abs(right.astype(np.int32)) > LOUD)
    assert caller_loud[-1] < answer_loud[0]  # time-aligned: the answer follows the question


async def until_described(folder: Path, recording_id: str) -> None:
    """Wait until a recorder's writer has created and locked its file, and described it."""
    description = folder / f"{recording_id}.json"
    async with asyncio.timeout(10):
        while not await asyncio.to_thread(description.exists):  # noqa: ASYNC110 - a file
            await asyncio.sleep(0.01)

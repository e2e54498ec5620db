"""The caller's speech: short sentences spoken once by Piper, as 16 kHz WAV clips."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicegate.audio.frame import FRAME_MS, INT16_FULL_SCALE, AudioFrame
from voicegate.audio.resample import resample
from voicegate.audio.wav import write_wav
from voicegate.tts.piper import PiperTTS

SAMPLE_RATE = 16000
# A sample quieter than this (dBFS) is not speech when finding where a clip's speech ends.
_SPEECH_LEVEL_DBFS = -40.0

SENTENCES: tuple[str, ...] = (
    "Please turn on the kitchen lights.",
    "What time does the meeting start tomorrow?",
    "Send a message to the whole team.",
    "How is the weather in Paris today?",
    "Play some quiet music in the living room.",
    "Remind me to call my sister tonight.",
    "Book a table for two people this evening.",
    "Where did I park the car?",
)


@dataclass(frozen=True, slots=True)
class SpeechClip:
    """One spoken sentence as 20 ms PCM16 frames at 16 kHz.

    The frames stop at the one holding the clip's last sample above -40 dBFS: the
    caller's speech ends when the last frame is sent.
    """

    text: str
    path: Path
    frames: tuple[bytes, ...]

    @property
    def duration(self) -> float:
        """Seconds of audio in the clip."""
        return len(self.frames) * FRAME_MS / 1000

    @property
    def audio(self) -> AudioFrame:
        """The frames as one 16 kHz mono frame."""
        return AudioFrame.from_bytes(b"".join(self.frames), SAMPLE_RATE)


def pcm_frames(audio: AudioFrame, frame_ms: int = FRAME_MS) -> list[bytes]:
    """Mono ``audio`` cut into PCM16 frames of ``frame_ms`` (the last one zero-padded)."""
    size = audio.sample_rate * frame_ms // 1000
    samples = audio.samples.reshape(-1)
    padded = np.concatenate([samples, np.zeros(-len(samples) % size, np.int16)])
    return [padded[i : i + size].tobytes() for i in range(0, len(padded), size)]


def clip_from_audio(text: str, path: Path, audio: AudioFrame) -> SpeechClip:
    """Cut 16 kHz mono ``audio`` into frames, up to the end of its speech."""
    samples = audio.samples.reshape(-1)
    threshold = INT16_FULL_SCALE * 10 ** (_SPEECH_LEVEL_DBFS / 20)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if len(loud) == 0:
        raise ValueError(f"{path}: the clip for {text!r} holds no speech")
    last_frame = int(loud[-1]) // (audio.sample_rate * FRAME_MS // 1000)
    return SpeechClip(text, path, tuple(pcm_frames(audio)[: last_frame + 1]))


async def make_clips(
    tts: PiperTTS, folder: Path, sentences: tuple[str, ...] = SENTENCES
) -> list[SpeechClip]:
    """Speak every sentence once with ``tts``, write each as a WAV under ``folder``."""
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    clips = []
    for index, text in enumerate(sentences):
        audio = resample(await tts.synthesize(text), SAMPLE_RATE)
        path = folder / f"sentence-{index:02d}.wav"
        await asyncio.to_thread(write_wav, path, audio)
        clips.append(clip_from_audio(text, path, audio))
    return clips


async def piper_clips(folder: Path) -> list[SpeechClip]:
    """:func:`make_clips` of :data:`SENTENCES` with a Piper voice of its own, closed after."""
    tts = PiperTTS()
    try:
        return await make_clips(tts, folder)
    finally:
        tts.close()

"""The caller's open utterance as the listener keeps it: the recogniser's stream of it, its
judgement if it began over an answer, and the swap of its audio for the raw microphone's;
and the silence that makes up for a short pre-roll."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import numpy as np

from voicegate.audio.endpoint import SpeechStart
from voicegate.audio.frame import AudioFrame
from voicegate.stt.base import STTStream
from voicegate.voice.overlap import Overlap
from voicegate.voice.turns import TurnTimings


@dataclass(slots=True)
class Utterance:
    """The open utterance: its stream, and its :class:`Overlap` if it began over an answer;
    ``audio_start`` is where its stream's audio starts (the pre-roll), ``raw`` whether the
    stream has the raw audio, or may not be given it (a stream other utterances share)."""

    stream: STTStream
    start: float
    audio_start: float
    overlap: Overlap | None
    raw: bool = False

    def take_raw(
        self, raw: AudioFrame, stream: STTStream, held: list[AudioFrame]
    ) -> list[AudioFrame]:
        """Replace the stream by ``stream``, given ``raw`` (from :attr:`audio_start`, or the
        start of the sound the canceller cut before it, to now) in place of what was pushed;
        the quiet frames ``held`` back from the stream come back in their raw form (and
        their pass is asked for again)."""
        self.raw = True
        pushed = raw.num_samples - sum(frame.num_samples for frame in held)
        self.stream.cancel()
        self.stream = stream
        stream.push(AudioFrame(raw.samples[:pushed], raw.sample_rate, raw.timestamp))
        if not held:
            return []
        stream.settle()
        return [AudioFrame(raw.samples[pushed:], raw.sample_rate, held[0].timestamp)]


@dataclass(slots=True)
class Transcribing:
    """A turn whose final transcript the listener awaits in turn: one utterance, or several
    joined into its stream (judged as the first); ``ended`` is clear while an utterance is
    still being added."""

    utterance: Utterance
    timings: TurnTimings
    ended: asyncio.Event = field(default_factory=asyncio.Event)


def lead_in(start: SpeechStart, preroll_ms: float) -> AudioFrame | None:
    """The silence that makes up for a pre-roll shorter than ``preroll_ms`` (speech that
    began with the call's audio), to go before it: Whisper's short window, given speech from
    its first sample, heard "Please" as "police" and said the sentence twice (a failed
    decode). None where the pre-roll is whole."""
    rate = start.speech.sample_rate
    missing = round(preroll_ms * rate / 1000) - start.preroll.num_samples
    return AudioFrame(np.zeros(missing, np.int16), rate) if missing > 0 else None

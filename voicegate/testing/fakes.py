"""Speech models for tests: a recogniser that hears a script, one that is slow, one that
hears the audio's bursts when let, a voice that beeps and an end-of-turn model that says
what it is told."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable, Iterable

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.stt.base import STTProvider, STTStream, Transcript
from voicegate.stt.worker import WorkerSTT
from voicegate.tts.base import TTSProvider, speech_pieces


class ScriptedSTT(STTProvider):
    """Hears ``utterances`` one per utterance, in order, whatever the audio says.

    Its stream is a natively streaming recogniser: after every ``partial_interval``
    seconds of audio it gives a partial with one more word of the utterance (never the
    whole), and :meth:`~STTStream.finish` the full text at once. At a pause
    (:meth:`~STTStream.settle`) it gives a partial of everything said so far: the whole
    utterance, or, for one written with bars (``"a table for | four people"``), the words
    up to the next bar, one bar per pause. Once the script is used up it hears nothing
    (an empty transcript, which is no turn). ``heard`` lists what it returned (without
    bars), ``audio_seconds`` how much audio each utterance was given, ``prompts`` the
    prompt each final transcript was asked with (a stream's as it finished).
    """

    def __init__(self, utterances: Iterable[str], language: str = "en") -> None:
        self._script = deque(utterances)
        self.language = language
        self.heard: list[str] = []
        self.audio_seconds: list[float] = []
        self.prompts: list[str | None] = []

    async def transcribe(
        self, audio: AudioFrame, language: str | None = None, *, prompt: str | None = None
    ) -> Transcript:
        text = self._next()
        self.audio_seconds.append(audio.duration)
        self.prompts.append(prompt)
        return Transcript(text, language or self.language, audio.duration, 0.0)

    def stream(
        self,
        partial_interval: float = 0.7,
        language: str | None = None,
        *,
        prompt: str | None = None,
    ) -> STTStream:
        stream = _ScriptedStream(self, self._next(), partial_interval, language or self.language)
        stream.prompt = prompt
        return stream

    async def warm_up(self) -> None:
        """Nothing to load."""

    def _next(self) -> str:
        text = self._script.popleft() if self._script else ""
        self.heard.append(" ".join(text.replace("|", " ").split()))
        return text


class _ScriptedStream(STTStream):
    def __init__(self, stt: ScriptedSTT, text: str, partial_interval: float, language: str) -> None:
        self._stt = stt
        self._language = language
        self._segments = [segment.split() for segment in text.split("|")]
        self._words = [word for segment in self._segments for word in segment]
        self._text = " ".join(self._words)
        self._interval = partial_interval
        self._seconds = 0.0
        self._said = 0  # words given as partials so far
        self._pauses = 0  # pauses given their partial so far
        self._settled_at = 0.0  # audio seconds of the last pause's partial
        self._partials: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._ended = False

    @property
    def duration(self) -> float:
        return self._seconds

    def push(self, audio: AudioFrame) -> None:
        if self._ended:
            raise RuntimeError("push() after finish() or cancel()")
        self._seconds += audio.duration
        while self._said + 1 < len(self._words) and self._seconds >= (self._said + 1) * (
            self._interval
        ):
            self._said += 1
            text = " ".join(self._words[: self._said])
            partial = Transcript(text, self._language, self._seconds, 0.0, is_final=False)
            self._partials.put_nowait(partial)

    def settle(self, *, tentative: bool = False) -> None:
        if self._ended or self._seconds <= self._settled_at:
            return
        self._settled_at = self._seconds
        self._pauses = min(self._pauses + 1, len(self._segments))
        said = [word for segment in self._segments[: self._pauses] for word in segment]
        text = " ".join(said)
        self._partials.put_nowait(
            Transcript(text, self._language, self._seconds, 0.0, is_final=False)
        )

    async def partials(self) -> AsyncIterator[Transcript]:
        while (partial := await self._partials.get()) is not None:
            yield partial

    async def finish(self) -> Transcript:
        self._end()
        self._stt.audio_seconds.append(self._seconds)
        self._stt.prompts.append(self.prompt)
        return Transcript(self._text, self._language, self._seconds, 0.0)

    def cancel(self) -> None:
        self._end()

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._partials.put_nowait(None)


class BusySTT(WorkerSTT):
    """A recogniser that hears ``text`` in every utterance and needs ``seconds_per_call`` of
    its worker thread for each transcription (the thread sleeps): an overloaded recogniser
    in a test. It takes turns like the real one (:class:`WorkerSTT`: finals first, partials
    when no final waits); ``finals`` and ``partials`` count the calls that ran."""

    def __init__(self, text: str = "hello", seconds_per_call: float = 0.05) -> None:
        super().__init__("busy-stt", max_queue=256)
        self.text = text
        self.seconds_per_call = seconds_per_call
        self.finals = 0
        self.partials = 0

    async def transcribe(
        self, audio: AudioFrame, language: str | None = None, *, prompt: str | None = None
    ) -> Transcript:
        self.finals += 1
        return await super().transcribe(audio, language, prompt=prompt)

    async def transcribe_partial(
        self,
        stream: Hashable,
        audio: Callable[[], AudioFrame],
        language: str | None = None,
        *,
        prompt: str | None = None,
        speculative: bool = False,
    ) -> Transcript:
        self.partials += 1
        return await super().transcribe_partial(
            stream, audio, language, prompt=prompt, speculative=speculative
        )

    def recognise(
        self, audio: AudioFrame, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        time.sleep(self.seconds_per_call)
        return Transcript(self.text, language or "en", audio.duration, self.seconds_per_call)


class BurstSTT(WorkerSTT):
    """A recogniser that hears the audio itself: one word per burst of sound, named by the
    burst's length in tenths of a second (``w6`` for 0.6 s; bursts 0.2 s or more apart are
    words of their own). Its worker thread waits while ``gate`` is clear, so a test can let
    finals pile up and then release them. ``heard_seconds`` lists the length of every audio
    it transcribed (partial or final)."""

    def __init__(self) -> None:
        super().__init__("burst-stt", max_queue=256)
        self.gate = threading.Event()
        self.gate.set()
        self.heard_seconds: list[float] = []

    def recognise(
        self, audio: AudioFrame, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        self.gate.wait()
        samples = self.as_input(audio).samples[:, 0]
        block = self.sample_rate // 100  # 10 ms
        count = len(samples) // block
        loud = np.abs(samples[: count * block].reshape(count, block)).max(axis=1) > 500
        words: list[str] = []
        bursts = np.flatnonzero(loud).tolist()
        start = end = bursts[0] if bursts else 0
        for index in [*bursts[1:], count + 100] if bursts else []:
            if index - end >= 20:  # 0.2 s of quiet: the burst ended
                words.append(f"w{round((end + 1 - start) / 10)}")
                start = index
            end = index
        self.heard_seconds.append(audio.duration)
        return Transcript(" ".join(words), "en", audio.duration, 0.0)


class ToneTTS(TTSProvider):
    """Speaks ``ms_per_word`` of a sine tone per word, at once: answers of a known length.

    It streams piece by piece like a real voice (:func:`speech_pieces`) and records
    every piece it speaks in ``spoken``.
    """

    def __init__(
        self, ms_per_word: int = 100, sample_rate: int = 16000, frequency: float = 440.0
    ) -> None:
        self.ms_per_word = ms_per_word
        self.sample_rate = sample_rate
        self.frequency = frequency
        self.spoken: list[str] = []

    async def synthesize(self, text: str) -> AudioFrame:
        self.spoken.append(text)
        return self._tone(text)

    async def synthesize_stream(self, text: str) -> AsyncGenerator[AudioFrame, None]:
        for piece in speech_pieces(text):
            self.spoken.append(piece.text)
            yield self._tone(piece.text)
            await asyncio.sleep(0)  # as a real voice does, let the loop run between pieces

    async def warm_up(self) -> None:
        """Nothing to load."""

    def _tone(self, text: str) -> AudioFrame:
        count = len(text.split()) * self.ms_per_word * self.sample_rate // 1000
        phase = 2 * np.pi * self.frequency * np.arange(count) / self.sample_rate
        return AudioFrame((np.sin(phase) * 8000).astype(np.int16), self.sample_rate)


class ScriptedEndOfTurn(EndOfTurnModel):
    """Puts the completion of each pause it is asked about at the next of
    ``probabilities``, then at ``otherwise``; ``asked`` counts the questions."""

    window_s = 8.0  # it hears nothing: any window will do

    def __init__(self, probabilities: Iterable[float] = (), otherwise: float = 1.0) -> None:
        self._script = deque(probabilities)
        self.otherwise = otherwise
        self.asked = 0

    async def completion(self, audio: AudioFrame) -> float:
        self.asked += 1
        return self._script.popleft() if self._script else self.otherwise

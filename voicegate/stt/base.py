"""Speech-to-text contract: ``STTProvider``, its ``Transcript`` and the streaming ``STTStream``.

A recogniser that only transcribes whole utterances gets :class:`BatchSTTStream` (partials
by re-transcribing the audio so far); one that streams natively overrides
:meth:`STTProvider.stream` with its own :class:`STTStream`.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.errors import RoomKitError


class UnsupportedLanguageError(RoomKitError):
    """A transcript was asked for in a language the recogniser does not know."""


@dataclass(frozen=True, slots=True)
class TranscriptSegment:
    """A stretch of the transcript with its start and end time in the audio, in seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True, slots=True)
class Transcript:
    """What a provider heard in one utterance (or, for a partial, in the audio so far), and
    in which language (an ISO 639-1 code: the one asked for, or the one detected)."""

    text: str
    language: str
    audio_duration: float
    processing_time: float
    segments: tuple[TranscriptSegment, ...] = ()
    is_final: bool = True


class STTProvider(ABC):
    """Speech recognition on finished utterances, plus a streaming form for partials."""

    sample_rate: int = 16000

    @abstractmethod
    async def transcribe(self, audio: AudioFrame, language: str | None = None) -> Transcript:
        """Transcribe one finished utterance (any rate or channel count) in ``language``
        (None: the provider's default or the language it detects); raises
        :class:`UnsupportedLanguageError` for a language it does not know."""

    def supports_language(self, language: str) -> bool:
        """Whether :meth:`transcribe` knows ``language``; by default every one."""
        return True

    def stream(self, partial_interval: float = 0.7, language: str | None = None) -> STTStream:
        """Start a streamed utterance in ``language`` with a partial about every
        ``partial_interval`` seconds of audio; by default a :class:`BatchSTTStream` over
        :meth:`transcribe`."""
        return BatchSTTStream(self, partial_interval, language)

    async def warm_up(self) -> None:
        """Pay first-call costs now so the first real caller does not."""
        silence = AudioFrame(np.zeros(self.sample_rate, dtype=np.int16), self.sample_rate)
        await self.transcribe(silence)

    def close(self) -> None:  # noqa: B027 - providers without resources need no close
        """Release the model and its worker."""

    def as_input(self, audio: AudioFrame) -> AudioFrame:
        """``audio`` as mono at :attr:`sample_rate`, the form the model consumes."""
        return resample(audio.downmix(), self.sample_rate)


class STTStream(ABC):
    """One utterance fed as it arrives: partial transcripts while it goes on, then a final."""

    @property
    @abstractmethod
    def duration(self) -> float:
        """Seconds of audio pushed so far."""

    @abstractmethod
    def push(self, audio: AudioFrame) -> None:
        """Add audio (mono at the provider's rate)."""

    def settle(self) -> None:  # noqa: B027 - a hint that recognisers may ignore
        """The speaker paused: a good moment to transcribe what was pushed so far, so that
        :meth:`finish` is quick if the pause ends the utterance."""

    @abstractmethod
    def partials(self) -> AsyncIterator[Transcript]:
        """Partial transcripts as they are produced, until :meth:`finish` or :meth:`cancel`."""

    @abstractmethod
    async def finish(self) -> Transcript:
        """End the utterance and return its final transcript."""

    @abstractmethod
    def cancel(self) -> None:
        """Abandon the utterance: stop any work in progress and end :meth:`partials`."""


class BatchSTTStream(STTStream):
    """An utterance for a recogniser that only transcribes whole audio.

    :meth:`push` buffers audio and, once ``partial_interval`` seconds of new audio have
    arrived and no partial is being computed, re-transcribes the whole buffer in the
    background. :meth:`finish` reuses the last partial when no audio came after it, so
    the work left after the end of speech is at most one pass over the utterance.
    """

    def __init__(
        self, provider: STTProvider, partial_interval: float, language: str | None = None
    ) -> None:
        self._provider = provider
        self._interval = partial_interval
        self._language = language
        self._chunks: list[np.typing.NDArray[np.int16]] = []
        self._samples = 0
        self._transcribed_samples = 0
        self._latest: Transcript | None = None
        self._task: asyncio.Task[None] | None = None
        self._partials: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._finished = False
        self._cancelled = False
        self._settling = False

    @property
    def duration(self) -> float:
        """Seconds of audio pushed so far."""
        return self._samples / self._provider.sample_rate

    def push(self, audio: AudioFrame) -> None:
        """Add audio; may start a background partial."""
        if self._finished:
            raise RuntimeError("push() after finish() on an STTStream")
        audio = self._provider.as_input(audio)
        self._chunks.append(audio.samples[:, 0])
        self._samples += audio.num_samples
        self._settling = False
        new_audio = (self._samples - self._transcribed_samples) / self._provider.sample_rate
        if new_audio >= self._interval and (self._task is None or self._task.done()):
            self._start_pass()

    def settle(self) -> None:
        """Transcribe all audio pushed so far, now or right after the pass in progress."""
        if self._finished or self._samples == self._transcribed_samples:
            return
        self._settling = True
        if self._task is None or self._task.done():
            self._start_pass()

    async def partials(self) -> AsyncIterator[Transcript]:
        while (partial := await self._partials.get()) is not None:
            yield partial

    async def finish(self) -> Transcript:
        self._finished = True
        while self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await self._task
        self._partials.put_nowait(None)
        latest = self._latest
        if latest is not None and self._transcribed_samples == self._samples:
            return replace(latest, is_final=True)
        return await self._provider.transcribe(self._audio(), self._language)

    def cancel(self) -> None:
        self._finished = self._cancelled = True
        if self._task is not None:
            self._task.cancel()
        self._partials.put_nowait(None)

    def _audio(self) -> AudioFrame:
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self._chunks = [samples]
        return AudioFrame(samples, self._provider.sample_rate)

    def _start_pass(self) -> None:
        self._settling = False
        self._task = asyncio.create_task(self._partial(self._audio()))

    async def _partial(self, audio: AudioFrame) -> None:
        transcript = await self._provider.transcribe(audio, self._language)
        self._latest = transcript
        self._transcribed_samples = audio.num_samples
        if not self._finished:
            self._partials.put_nowait(replace(transcript, is_final=False))
        if self._settling and not self._cancelled and self._samples > audio.num_samples:
            self._start_pass()

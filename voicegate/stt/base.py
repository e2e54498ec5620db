"""Speech-to-text contract: ``STTProvider``, its ``Transcript`` and the streaming ``STTStream``.

A recogniser that only transcribes whole utterances gets :class:`BatchSTTStream` (partials
by re-transcribing the audio so far); one that streams natively overrides
:meth:`STTProvider.stream` with its own :class:`STTStream`. Final transcripts are required
work: they wait for a busy recogniser and are never dropped. Partials are optional: a busy
recogniser gives fewer of them (:meth:`STTProvider.transcribe_partial`).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, replace

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.errors import RoomKitError
from voicegate.inference import JobSkippedError, Pressure

logger = logging.getLogger(__name__)

TENTATIVE_BUSY_LIMIT = 0.1
"""A recogniser busier than this share of its time skips the passes of tentative pauses
(:meth:`STTStream.settle`): most are the closures of stop consonants, and their passes
would add half again to a sentence's. With a quarter, 8 WebSocket callers on 2 cores had a
first answer audio p95 130 ms over the code without them; with a tenth, none."""


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
    async def transcribe(
        self, audio: AudioFrame, language: str | None = None, *, prompt: str | None = None
    ) -> Transcript:
        """Transcribe one finished utterance (any rate or channel count) in ``language``
        (None: the provider's default or the language it detects); raises
        :class:`UnsupportedLanguageError` for a language it does not know.

        ``prompt`` is text the speech is likely to resemble: a recogniser that takes one
        (Whisper reads it as the text before the audio) leans towards its words and their
        spelling where the sound is unclear; others ignore it."""

    def supports_language(self, language: str) -> bool:
        """Whether :meth:`transcribe` knows ``language``; by default every one."""
        return True

    async def transcribe_partial(
        self,
        stream: Hashable,
        audio: Callable[[], AudioFrame],
        language: str | None = None,
        *,
        prompt: str | None = None,
        speculative: bool = False,
    ) -> Transcript:
        """Transcribe an utterance so far in ``language`` with ``prompt``, for a partial
        transcript of ``stream``.

        ``audio()`` gives the audio when the recogniser gets to the request: a busy one
        lets requests wait behind the final transcripts and then takes the freshest audio.
        ``stream`` has one request at a time. A ``speculative`` request comes as the
        speaker pauses (its result is likely the final's); a busy recogniser may skip the
        others (:class:`~voicegate.inference.JobSkippedError`). By default:
        :meth:`transcribe` at once.
        """
        return await self.transcribe(audio(), language, prompt=prompt)

    def promote_partial(self, stream: Hashable) -> None:  # noqa: B027 - a hint
        """The utterance of ``stream`` ended: its partial request, if it still waits, is the
        final transcript's work now and takes its turn among the finals."""

    def pressure(self) -> Pressure | None:
        """The recogniser's load, which admission measures; None if it is not measured."""
        return None

    def stream(
        self,
        partial_interval: float = 0.7,
        language: str | None = None,
        *,
        prompt: str | None = None,
    ) -> STTStream:
        """Start a streamed utterance in ``language`` with a partial about every
        ``partial_interval`` seconds of audio, recognised with ``prompt`` (until the
        stream's :attr:`~STTStream.prompt` changes); by default a :class:`BatchSTTStream`
        over :meth:`transcribe`."""
        return BatchSTTStream(self, partial_interval, language, prompt=prompt)

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

    prompt: str | None = None
    """The prompt the passes from now on are recognised with (see
    :meth:`STTProvider.transcribe`); a stream that takes none ignores it."""

    @property
    @abstractmethod
    def duration(self) -> float:
        """Seconds of audio pushed so far."""

    @abstractmethod
    def push(self, audio: AudioFrame) -> None:
        """Add audio (mono at the provider's rate)."""

    def settle(self, *, tentative: bool = False) -> None:  # noqa: B027 - a hint
        """The speaker paused: a good moment to transcribe what was pushed so far, so that
        :meth:`finish` is quick if the pause ends the utterance. A ``tentative`` pause is
        short enough to be a consonant's closure; a busy recogniser may wait for the
        pause to be sure (a later :meth:`settle`)."""

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

    Once ``partial_interval`` seconds of new audio have arrived (or the speaker pauses,
    :meth:`settle`), it asks the provider for a partial over the audio so far: one
    request at a time, which takes the freshest audio when the recogniser gets to it.
    :meth:`finish` reuses that pass when it covers all the audio (moving it to the
    finals' turn if it still waits), so the work left after the end of speech is at most
    one pass over the utterance.
    """

    def __init__(
        self,
        provider: STTProvider,
        partial_interval: float,
        language: str | None = None,
        *,
        prompt: str | None = None,
    ) -> None:
        self._provider = provider
        self._interval = partial_interval
        self._language = language
        self.prompt = prompt
        self._chunks: list[np.typing.NDArray[np.int16]] = []
        self._samples = 0
        self._requested_samples = 0  # the audio the latest partial request asked about
        self._taken_samples = 0  # the audio the pending request took when its turn came
        self._transcribed_samples = 0
        self._latest: Transcript | None = None
        self._task: asyncio.Task[None] | None = None
        self._partials: asyncio.Queue[Transcript | None] = asyncio.Queue()
        self._finished = False
        self._settling = False

    @property
    def duration(self) -> float:
        """Seconds of audio pushed so far."""
        return self._samples / self._provider.sample_rate

    def push(self, audio: AudioFrame) -> None:
        """Add audio; may ask for a partial."""
        if self._finished:
            raise RuntimeError("push() after finish() on an STTStream")
        audio = self._provider.as_input(audio)
        self._chunks.append(audio.samples[:, 0])
        self._samples += audio.num_samples
        self._settling = False
        new_audio = (self._samples - self._requested_samples) / self._provider.sample_rate
        if new_audio >= self._interval and not self._pending():
            self._request()

    def settle(self, *, tentative: bool = False) -> None:
        """Transcribe all audio pushed so far, now or right after the pass in progress; for a
        ``tentative`` pause, only if the recogniser is at most :data:`TENTATIVE_BUSY_LIMIT`
        busy."""
        if self._finished or self._samples == self._transcribed_samples:
            return
        if tentative and not self._has_time():
            return
        self._settling = True
        if not self._pending():
            self._request()

    async def partials(self) -> AsyncIterator[Transcript]:
        while (partial := await self._partials.get()) is not None:
            yield partial

    async def finish(self) -> Transcript:
        self._finished = True
        if self._pending():  # a request still waiting takes all the audio: the final's work
            self._provider.promote_partial(self)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._partials.put_nowait(None)
        latest = self._latest
        if latest is not None and self._transcribed_samples == self._samples:
            return replace(latest, is_final=True)
        return await self._provider.transcribe(self._audio(), self._language, prompt=self.prompt)

    def cancel(self) -> None:
        self._finished = True
        if self._task is not None:
            self._task.cancel()
        self._partials.put_nowait(None)

    def _has_time(self) -> bool:
        pressure = self._provider.pressure()
        return pressure is None or pressure.busy <= TENTATIVE_BUSY_LIMIT

    def _pending(self) -> bool:
        return self._task is not None and not self._task.done()

    def _audio(self) -> AudioFrame:
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self._chunks = [samples]
        return AudioFrame(samples, self._provider.sample_rate)

    def _request(self) -> None:
        speculative, self._settling = self._settling, False
        self._requested_samples = self._samples
        self._task = asyncio.create_task(self._partial(speculative))

    def _take_audio(self) -> AudioFrame:
        """The audio so far, for the request whose turn came."""
        self._taken_samples = self._requested_samples = self._samples
        return self._audio()

    async def _partial(self, speculative: bool) -> None:
        try:
            transcript = await self._provider.transcribe_partial(
                self, self._take_audio, self._language, prompt=self.prompt, speculative=speculative
            )
        except JobSkippedError:  # the recogniser is busy: this partial is not given
            pass
        except Exception as error:  # a partial is optional; a failing model fails the final
            logger.warning("a partial transcript failed: %s", error)
            return
        else:
            self._latest = transcript
            self._transcribed_samples = self._taken_samples
            if not self._finished:
                self._partials.put_nowait(replace(transcript, is_final=False))
        if self._settling and not self._finished and self._samples > self._transcribed_samples:
            self._request()  # the pause's pass: over more audio, or in place of one not given

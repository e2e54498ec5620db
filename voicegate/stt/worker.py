"""``WorkerSTT``: a recogniser whose blocking model runs on its own worker thread, finals first.

Every transcription is a job on the model's :class:`~voicegate.inference.InferenceWorker`,
ordered by :class:`~voicegate.inference.InferenceLanes`: a final transcript waits its turn
among the finals and is never dropped; a partial runs only when no final waits, on the
freshest audio. :meth:`WorkerSTT.pressure` is the load admission measures.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Hashable
from dataclasses import replace
from functools import partial

from voicegate.audio.frame import AudioFrame
from voicegate.inference import InferenceLanes, InferenceWorker, Pressure
from voicegate.stt.base import STTProvider, Transcript


class WorkerSTT(STTProvider):
    """Recognition on a worker thread named ``name``, at most ``max_queue`` finals waiting.

    Subclasses implement :meth:`recognise`, which runs on that thread.
    """

    def __init__(self, name: str, max_queue: int) -> None:
        self._worker = InferenceWorker(name, max_queue=1)  # the lanes give it one job at a time
        self._lanes = InferenceLanes(self._worker, max_waiting=max_queue)

    @abstractmethod
    def recognise(self, audio: AudioFrame, language: str | None = None) -> Transcript:
        """On the worker thread: the transcript of ``audio`` (any rate or channel count) in
        ``language`` (None: the recogniser's default or the language it detects)."""

    def check_language(self, language: str | None) -> None:
        """Raise :class:`~voicegate.stt.base.UnsupportedLanguageError` on the event loop,
        before any work is queued, for a language :meth:`recognise` does not know."""

    async def transcribe(self, audio: AudioFrame, language: str | None = None) -> Transcript:
        """Transcribe one finished utterance in ``language``, in its turn among the finals."""
        self.check_language(language)
        started = time.perf_counter()
        transcript = await self._lanes.run(self.recognise, audio, language)
        return replace(transcript, processing_time=time.perf_counter() - started)

    async def transcribe_partial(
        self, stream: Hashable, audio: Callable[[], AudioFrame], language: str | None = None
    ) -> Transcript:
        """The utterance so far in ``language``, once no final waits (see
        :class:`InferenceLanes`)."""
        self.check_language(language)
        started = time.perf_counter()
        recognise = partial(self.recognise, language=language)
        transcript = await self._lanes.offer(stream, recognise, audio)
        return replace(transcript, processing_time=time.perf_counter() - started)

    def promote_partial(self, stream: Hashable) -> None:
        """Move ``stream``'s waiting partial among the finals."""
        self._lanes.promote(stream)

    def pressure(self) -> Pressure:
        """The load on the model's worker."""
        return self._lanes.pressure()

    def close(self) -> None:
        """Stop the worker."""
        self._worker.close()

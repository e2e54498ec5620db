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
    def recognise(self, audio: AudioFrame) -> Transcript:
        """On the worker thread: the transcript of ``audio`` (any rate or channel count)."""

    async def transcribe(self, audio: AudioFrame) -> Transcript:
        """Transcribe one finished utterance, in its turn among the finals."""
        started = time.perf_counter()
        transcript = await self._lanes.run(self.recognise, audio)
        return replace(transcript, processing_time=time.perf_counter() - started)

    async def transcribe_partial(
        self, stream: Hashable, audio: Callable[[], AudioFrame]
    ) -> Transcript:
        """The utterance so far, once no final waits (see :class:`InferenceLanes`)."""
        started = time.perf_counter()
        transcript = await self._lanes.offer(stream, self.recognise, audio)
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

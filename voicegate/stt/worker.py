"""``WorkerSTT``: a recogniser whose blocking model runs on its own worker thread, finals first.

Every transcription is a job on the model's :class:`~voicegate.inference.InferenceWorker`,
ordered by :class:`~voicegate.inference.InferenceLanes`: a final transcript waits its turn
among the finals and is never dropped; a partial runs only when no final waits, on the freshest
audio. Finals that wait together are recognised together, up to ``max_batch`` in one call of
:meth:`WorkerSTT.recognise_batch` (partials likewise, among partials); a final that the batch
leaves to be finished alone (a slow decode) is the next job, so it holds up no other, and what
the batch did for it is not done again. A speculative partial (the speaker paused: the pass
that is likely the final's) waits ahead of the other partials and always runs; the others are
skipped while the worker was more than ``partial_busy_limit`` busy over the last seconds, so a
loaded recogniser spends its time (and the cores it shares with the synthesiser) on finals. Nor
is a partial that is not speculative given when it needs a slow decode (Whisper's 30 s window,
0.4-0.8 s of the worker): the first 0.3 s of a sentence often looks failed to the short window.
A speculative one that needs it has it as a job of its own, at the head of the partials, so
finals given meanwhile go first, and a pass whose stream was cancelled (its utterance heard
anew, or over) never takes it: over an answer on a loaded VM, one took 2.3 s of the worker
after its stream had gone, and a final waited 1 s behind it.
:meth:`WorkerSTT.pressure` is the load admission measures.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from typing import NamedTuple

from voicegate.audio.frame import AudioFrame
from voicegate.inference import (
    InferenceLanes,
    InferenceWorker,
    JobSkippedError,
    Pressure,
    RunAlone,
)
from voicegate.stt.base import STTProvider, Transcript

GPU_MAX_BATCH = 8
"""Utterances a recogniser that batches (Whisper) takes in one call at most on a GPU, by
default. On the CPU the default is 1: a batch's utterances get their transcripts when the
whole batch is done, which on a few cores costs the first in line more than the shared
decoder calls save (see the README's Speed section)."""
PARTIAL_BUSY_LIMIT = 0.5
"""Partials (but speculative ones) are skipped while the recogniser's worker was busy more
than this share of the last seconds (by default)."""


class Utterance(NamedTuple):
    """Audio to recognise, its language (None: the default, or the one detected) and the
    prompt it is recognised with (see :meth:`~voicegate.stt.base.STTProvider.transcribe`)."""

    audio: AudioFrame
    language: str | None = None
    prompt: str | None = None


class WorkerSTT(STTProvider):
    """Recognition on a worker thread named ``name``, at most ``max_queue`` finals waiting,
    at most ``max_batch`` utterances recognised in one call, partials that are not
    speculative skipped above ``partial_busy_limit`` (None: never).

    Subclasses implement :meth:`recognise`, and :meth:`recognise_batch` where the model
    recognises several utterances at once; both run on that thread.
    """

    def __init__(
        self,
        name: str,
        max_queue: int,
        max_batch: int = 1,
        partial_busy_limit: float | None = PARTIAL_BUSY_LIMIT,
    ) -> None:
        self._worker = InferenceWorker(name, max_queue=1)  # the lanes give it one job at a time
        self._lanes = InferenceLanes(
            self._worker,
            max_waiting=max_queue,
            max_batch=max_batch,
            skip_optional_above=partial_busy_limit,
        )

    @abstractmethod
    def recognise(
        self, audio: AudioFrame, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        """On the worker thread: the transcript of ``audio`` (any rate or channel count) in
        ``language`` (None: the recogniser's default or the language it detects), with
        ``prompt`` (a recogniser without prompts ignores it)."""

    def recognise_batch(
        self, utterances: Sequence[Utterance], *, leave_slow: bool = False
    ) -> list[Transcript | RunAlone[Transcript]]:
        """On the worker thread: the transcripts of several utterances, in order; with
        ``leave_slow``, a :class:`~voicegate.inference.RunAlone` for one that needs a slow
        decode, whose ``rest`` finishes it. By default one :meth:`recognise` after another."""
        return [self.recognise(*utterance) for utterance in utterances]

    def _recognise_finals(
        self, utterances: list[Utterance]
    ) -> list[Transcript | BaseException | RunAlone[Transcript]]:
        """:meth:`_recognise_each`, leaving the slow ones of a batch to finish alone."""
        return self._recognise_each(utterances, leave_slow=len(utterances) > 1)

    def _recognise_partials(
        self, utterances: list[Utterance]
    ) -> list[Transcript | BaseException | RunAlone[Transcript]]:
        """:meth:`_recognise_each`, skipping each that needs a slow decode: a partial is
        optional, and a running call holds up every final that arrives meanwhile."""
        return [
            JobSkippedError("a partial that needs a slow decode")
            if isinstance(result, RunAlone)
            else result
            for result in self._recognise_each(utterances, leave_slow=True)
        ]

    def _recognise_speculative(
        self, utterances: list[Utterance]
    ) -> list[Transcript | BaseException | RunAlone[Transcript]]:
        """:meth:`_recognise_each`, each that needs a slow decode finished alone: a
        speculative pass is likely the final's work."""
        return self._recognise_each(utterances, leave_slow=True)

    def _recognise_each(
        self, utterances: list[Utterance], leave_slow: bool
    ) -> list[Transcript | BaseException | RunAlone[Transcript]]:
        """:meth:`recognise_batch`; if it fails, each utterance alone, so one that cannot be
        recognised fails its own caller only."""
        try:
            return list(self.recognise_batch(utterances, leave_slow=leave_slow))
        except Exception:
            if len(utterances) == 1:
                raise
        results: list[Transcript | BaseException | RunAlone[Transcript]] = []
        for utterance in utterances:
            try:
                results.append(self.recognise(*utterance))
            except Exception as error:
                results.append(error)
        return results

    def check_language(self, language: str | None) -> None:
        """Raise :class:`~voicegate.stt.base.UnsupportedLanguageError` on the event loop,
        before any work is queued, for a language :meth:`recognise` does not know."""

    async def transcribe(
        self, audio: AudioFrame, language: str | None = None, *, prompt: str | None = None
    ) -> Transcript:
        """Transcribe one finished utterance in ``language`` with ``prompt``, in its turn
        among the finals."""
        self.check_language(language)
        started = time.perf_counter()
        transcript = await self._lanes.run_batched(
            self._recognise_finals, Utterance(audio, language, prompt)
        )
        return replace(transcript, processing_time=time.perf_counter() - started)

    async def transcribe_partial(
        self,
        stream: Hashable,
        audio: Callable[[], AudioFrame],
        language: str | None = None,
        *,
        prompt: str | None = None,
        speculative: bool = False,
    ) -> Transcript:
        """The utterance so far in ``language`` with ``prompt``, once no final waits (see
        :class:`InferenceLanes`); raises :class:`~voicegate.inference.JobSkippedError` if
        the worker is too busy for a partial that is not ``speculative``."""
        self.check_language(language)
        started = time.perf_counter()

        def utterance() -> Utterance:
            return Utterance(audio(), language, prompt)

        recognise = self._recognise_speculative if speculative else self._recognise_partials
        transcript = await self._lanes.offer(stream, recognise, utterance, urgent=speculative)
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

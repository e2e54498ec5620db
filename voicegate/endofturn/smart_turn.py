"""Smart Turn v3.2: Pipecat's end-of-turn model (int8 ONNX, BSD-2-Clause), on its own thread.

The model reads the last 8 s of the utterance as Whisper's log-Mel features (80 x 800;
audio shorter than 8 s is padded with silence in front) and returns the probability
that the turn is complete. Requests from all sessions wait in order, on the model's own
worker thread: one feature pass per request and one model call for each batch of up to
``max_batch`` of them that wait together (about 37 ms of model per request on an idle
core). On the CPU a batch is no faster per request (one of 4 took 175 ms against 37 for
one) and every request in it waits for the whole: ``max_batch`` is 1 unless set. At most
``max_pending`` requests wait; more are refused with
:class:`~voicegate.inference.WorkerOverloadedError`.

A request cancelled while it waits is skipped; once every request of the batch being run is
cancelled, the model call stops where it is (ONNX Runtime's ``RunOptions.terminate``). A
session asks at each pause of 40 ms and cancels when the caller speaks again, as they mostly
do: at 16 callers of ``voicegate bench`` (48 turns), the model ran 105-115 calls and 54-57
answers were used; stopping the others took its CPU from 198-221 to 135-150 ms a turn (two
runs each, 2-core VM).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import INT16_FULL_SCALE, AudioFrame
from voicegate.audio.onnx import onnx_session, run_options
from voicegate.catalog import DEFAULT_TURN_MODEL, resolve_model
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.inference import InferenceWorker, WorkerOverloadedError

WINDOW_SECONDS = 8
_NORMALISE_EPSILON = 1e-7


class SmartTurn(EndOfTurnModel):
    """Smart Turn from the model cache (``voicegate models --fetch`` puts it there).

    The model loads on the worker thread at the first call; call :meth:`warm_up` at
    start-up.
    """

    window_s = float(WINDOW_SECONDS)

    def __init__(
        self, model: str = DEFAULT_TURN_MODEL, *, max_pending: int = 32, max_batch: int = 1
    ) -> None:
        self.model_path = resolve_model(model, "turn")
        self.max_pending = max_pending
        self.max_batch = max_batch
        self._worker = InferenceWorker("turn-smart-turn", max_queue=1)
        self._session: Any = None
        self._features: Any = None
        self._waiting: list[tuple[npt.NDArray[np.float32], asyncio.Future[float]]] = []
        self._batches: asyncio.Task[None] | None = None

    async def completion(self, audio: AudioFrame) -> float:
        if audio.sample_rate != self.sample_rate or audio.channels != 1:
            raise ValueError(f"Smart Turn takes {self.sample_rate} Hz mono audio")
        if len(self._waiting) >= self.max_pending:
            raise WorkerOverloadedError(
                f"Smart Turn is busy: {len(self._waiting)} requests wait (max {self.max_pending})"
            )
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append((_window(audio), future))
        if self._batches is None or self._batches.done():
            self._batches = asyncio.create_task(self._run_batches(), name="smart-turn")
        return await future

    async def warm_up(self) -> None:
        await self.completion(AudioFrame(np.zeros(self.sample_rate, np.int16), self.sample_rate))

    def close(self) -> None:
        self._worker.close()

    async def _run_batches(self) -> None:
        while self._waiting:
            waiting = [(window, f) for window, f in self._waiting if not f.done()]
            batch, self._waiting = waiting[: self.max_batch], waiting[self.max_batch :]
            if not batch:
                continue
            futures = [future for _, future in batch]
            options = run_options()
            for future in futures:
                future.add_done_callback(partial(_stop_if_abandoned, futures, options))
            try:
                windows = [w for w, _ in batch]
                probabilities = await self._worker.run(self._infer, windows, options)
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), probability in zip(batch, probabilities, strict=True):
                if not future.done():
                    future.set_result(probability)

    def _infer(self, windows: list[npt.NDArray[np.float32]], options: Any) -> list[float]:
        """Features and one model call for a batch, under ONNX Runtime's run ``options``;
        only ever runs on the worker thread."""
        if self._session is None:
            from faster_whisper.feature_extractor import FeatureExtractor

            self._session = onnx_session(self.model_path)
            self._features = FeatureExtractor(feature_size=80, chunk_length=WINDOW_SECONDS)
        frames = WINDOW_SECONDS * self._features.sampling_rate // self._features.hop_length
        features = np.stack(
            [self._features(window, padding=0)[:, :frames] for window in windows]
        ).astype(np.float32)
        (logits,) = self._session.run(None, {"input_features": features}, options)
        return [float(value) for value in np.asarray(logits).reshape(-1)]


def _stop_if_abandoned(
    futures: list[asyncio.Future[float]], options: Any, _: asyncio.Future[float]
) -> None:
    """Stop the batch's model call once every request in it is cancelled (the caller spoke
    again: no answer is wanted)."""
    if all(future.cancelled() for future in futures):
        options.terminate = True


def _window(audio: AudioFrame) -> npt.NDArray[np.float32]:
    """The last 8 s of ``audio``, padded with silence in front, normalised as Whisper's
    feature extractor does (zero mean, unit variance)."""
    size = WINDOW_SECONDS * audio.sample_rate
    samples = audio.samples[-size:, 0].astype(np.float32) / INT16_FULL_SCALE
    window = np.concatenate([np.zeros(size - len(samples), np.float32), samples])
    normalised: npt.NDArray[np.float32] = (window - window.mean()) / np.sqrt(
        window.var() + _NORMALISE_EPSILON
    )
    return normalised

"""The detectors added for turn-taking, on real speech: Smart Turn (the end-of-turn model)
and Silero VAD, batched as sessions use them; a model not fetched is a clear error."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.audio.silero import SileroVAD
from voicegate.bench.turn_items import real_complete
from voicegate.catalog import FETCH_COMMAND, resolve_model
from voicegate.endofturn.smart_turn import SmartTurn
from voicegate.errors import ModelNotAvailableError
from voicegate.voice.detectors import SILERO_MODEL

pytestmark = pytest.mark.models

RATE = 16000


async def _scores(model: SmartTurn, windows: list[np.ndarray]) -> list[float]:
    """All at once: requests that wait together go into one batch."""
    return list(await asyncio.gather(*(model.completion(AudioFrame(w, RATE)) for w in windows)))


def test_smart_turn_finds_real_spoken_sentences_complete_in_one_batch() -> None:
    """Real recorded sentences (Asterisk's prompts). Half sentences are not checked here:
    the model alone misjudges many (on Piper's voice, first halves scored 0.02-0.75 and
    changed with Piper's sampling noise); the word guard of the semantic end of turn and
    the evaluation cover them. Nor is every whole sentence found complete: of these eight,
    the menu label "Call-Forward Unconditional." scores 0.49, at the threshold, where float
    rounding in the features decides (and "That conference is full.", further on, 0.03)."""
    sentences = [item.samples for item in real_complete(8)]
    model = SmartTurn(max_batch=8)
    calls = _model_calls(model)
    try:
        batched = asyncio.run(_scores(model, sentences))
        alone = [asyncio.run(_scores(model, [samples]))[0] for samples in sentences]
    finally:
        model.close()

    assert len(sentences) == 8
    assert calls == [8] + [1] * 8
    assert sum(score >= 0.5 for score in batched) >= 7, batched
    assert alone == pytest.approx(batched, abs=1e-4)  # a batch gives each its own answer


def test_by_default_smart_turn_answers_requests_waiting_together_one_call_each() -> None:
    """On the CPU a batch is no faster per request, and each of its requests would wait for
    all of them: one model call a request, in order."""
    sentences = [item.samples for item in real_complete(3)]
    model = SmartTurn()
    calls = _model_calls(model)
    try:
        scores = asyncio.run(_scores(model, sentences))
    finally:
        model.close()

    assert calls == [1, 1, 1]
    assert len(scores) == 3


def _model_calls(model: SmartTurn) -> list[int]:
    """The number of requests in each of ``model``'s calls, as they happen."""
    calls: list[int] = []
    infer = model._infer

    def counted(windows: list[Any], options: Any) -> list[float]:
        calls.append(len(windows))
        return infer(windows, options)

    model._infer = counted  # type: ignore[method-assign]
    return calls


async def test_a_smart_turn_call_stops_once_every_request_in_it_is_cancelled() -> None:
    """A caller who speaks again cancels the question: the model call under way stops
    (its work would be CPU taken from every other session), and the model answers the next
    request as before. The call is held until the cancel has happened, so that the test
    does not race it; ONNX Runtime checks the flag at the start and between operators."""
    (sentence,) = [item.samples for item in real_complete(1)]
    model = SmartTurn()
    try:
        expected = await model.completion(AudioFrame(sentence, RATE))
        session = model._session
        running, cancelled, outcomes = threading.Event(), threading.Event(), []

        class Watched:
            def run(self, *args: Any) -> Any:
                running.set()
                cancelled.wait(30)  # the call runs after the cancel, however loaded the machine
                try:
                    result = session.run(*args)
                except Exception as error:
                    outcomes.append(str(error))
                    raise
                outcomes.append("finished")
                return result

        model._session = Watched()
        asked = asyncio.create_task(model.completion(AudioFrame(sentence, RATE)))
        await asyncio.to_thread(running.wait, 30)
        asked.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asked
        await asyncio.sleep(0)  # the request's done callbacks
        cancelled.set()
        again = await model.completion(AudioFrame(sentence, RATE))
    finally:
        model.close()

    assert "terminate" in outcomes[0], outcomes
    assert outcomes[1:] == ["finished"]
    assert again == pytest.approx(expected, abs=1e-4)


def test_smart_turn_refuses_audio_it_cannot_read() -> None:
    model = SmartTurn()
    try:
        with pytest.raises(ValueError, match="16000 Hz mono"):
            asyncio.run(model.completion(AudioFrame(np.zeros(800, np.int16), 8000)))
    finally:
        model.close()


def test_a_model_not_fetched_names_the_command_that_fetches_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VOICEGATE_CACHE", str(tmp_path))
    for model, kind in (("smart-turn-v3.2", "turn"), (SILERO_MODEL, "vad")):
        with pytest.raises(ModelNotAvailableError, match=FETCH_COMMAND):
            resolve_model(model, kind)


def test_silero_finds_real_speech_not_silence_or_noise_batched(
    espeak: Callable[[str], AudioFrame],
) -> None:
    vad = SileroVAD(resolve_model(SILERO_MODEL, "vad"))
    speech = resample(espeak("The quick brown fox jumps over the lazy dog"), RATE)
    samples = speech.samples[:, 0]
    frame = RATE // 50
    count = len(samples) // frame
    noise = np.random.default_rng(0).normal(0, 300, count * frame).astype(np.int16)
    rows = np.stack([samples[: count * frame], np.zeros(count * frame, np.int16), noise]).reshape(
        3, count, frame
    )
    together = [vad.new_stream() for _ in range(3)]
    apart = [vad.new_stream() for _ in range(3)]
    batched = np.array([vad.detect(together, rows[:, i], RATE) for i in range(count)]).T
    single = np.array(
        [
            [vad.detect([stream], rows[s, i][None], RATE)[0] for i in range(count)]
            for s, stream in enumerate(apart)
        ]
    )

    assert np.array_equal(batched, single)
    speech_share, silence_share, noise_share = batched.mean(axis=1)
    assert speech_share > 0.5
    assert silence_share == 0
    assert noise_share < 0.05

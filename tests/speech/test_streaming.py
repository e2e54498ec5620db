"""Streaming on the real models: clause-level TTS, partial transcripts, inference off the loop."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any

import faster_whisper.utils
import numpy as np
import onnxruntime
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import Resampler
from voicegate.inference import JobSkippedError
from voicegate.stt.base import Transcript
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.stt.worker import Utterance
from voicegate.tts.base import (
    LEAD_IN_S,
    MAX_PIECE_CHARS,
    MAX_PIECE_WORDS,
    speech_pieces,
    split_for_speech,
    trim_phrase_end,
)
from voicegate.tts.piper import PLAYOUT_MARGIN_S, PiperTTS

pytestmark = pytest.mark.models

LONG_TEXT = (
    "When you arrive at the station tomorrow morning, please wait by the main entrance, "
    "because the car will pick you up there. Bring your ticket and a warm coat."
)


def test_split_at_sentences_and_long_enough_clauses() -> None:
    assert split_for_speech(LONG_TEXT) == [
        "When you arrive at the station tomorrow morning,",
        "please wait by the main entrance,",
        "because the car will pick you up there.",
        "Bring your ticket and a warm coat.",
    ]
    assert split_for_speech("Yes, sure, I can do that for you.") == [
        "Yes, sure, I can do that for you."
    ]
    assert split_for_speech("Well, no.") == ["Well, no."]
    assert split_for_speech("   ") == []


def test_text_without_punctuation_is_cut_by_length() -> None:
    words = [f"word{n}" for n in range(40)]
    pieces = split_for_speech(" ".join(words))
    assert [len(piece.split()) for piece in pieces] == [MAX_PIECE_WORDS, MAX_PIECE_WORDS, 8]
    assert " ".join(pieces) == " ".join(words)
    long_words = ["x" * 30] * 12  # 12 words, but 371 characters
    pieces = split_for_speech(" ".join(long_words))
    assert all(len(piece) <= MAX_PIECE_CHARS for piece in pieces)
    assert " ".join(pieces).split() == long_words


@pytest.fixture
def piper_calls(tts: PiperTTS) -> Iterator[list[str]]:
    """The pieces Piper synthesises during the test, in order."""
    calls: list[str] = []
    original = tts._synthesize_text

    def counting(piece: str) -> AudioFrame:
        calls.append(piece)
        return original(piece)

    tts._synthesize_text = counting  # type: ignore[method-assign]
    yield calls
    del tts._synthesize_text


async def test_first_chunk_is_the_first_phrase_before_the_rest(
    tts: PiperTTS, piper_calls: list[str]
) -> None:
    pieces = [piece.text for piece in speech_pieces(LONG_TEXT)]
    chunks = []
    synthesised_at_first_chunk = 0
    async for chunk in tts.synthesize_stream(LONG_TEXT):
        if not chunks:
            synthesised_at_first_chunk = len(piper_calls)
        chunks.append(chunk)
    assert piper_calls == pieces
    assert pieces[0] == "When you arrive"
    assert synthesised_at_first_chunk <= 2 < len(pieces)
    first_phrase = await tts.synthesize(pieces[0])
    trimmed = trim_phrase_end(first_phrase)
    assert trimmed.duration < first_phrase.duration  # Piper's trailing silence is gone
    assert chunks[0].duration == pytest.approx(trimmed.duration, rel=0.15)
    assert all(chunk.sample_rate == tts.sample_rate == 22050 for chunk in chunks)


async def test_an_answer_starts_at_its_first_sound(tts: PiperTTS) -> None:
    """Piper opened most renderings of this sentence with 270-300 ms of silence, which a
    caller would wait through: the answer's first piece starts just before its first sound
    (a sample within 40 dB of its loudest)."""
    async for chunk in tts.synthesize_stream("How is the weather in Paris today?"):
        level = np.abs(chunk.samples[:, 0].astype(np.int32))
        first_sound = int(np.flatnonzero(level > level.max() / 100)[0])
        assert first_sound <= round(LEAD_IN_S * chunk.sample_rate) + 1
        break


async def test_cancelling_the_consumer_stops_synthesis_early(
    tts: PiperTTS, piper_calls: list[str]
) -> None:
    text = " ".join(f"This is sentence number {n} of a long answer." for n in range(30))

    second_chunk = asyncio.Event()

    async def speak() -> None:
        async for _ in tts.synthesize_stream(text):
            if len(piper_calls) >= 2:
                second_chunk.set()

    task = asyncio.create_task(speak())
    await second_chunk.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await tts.worker.run(lambda: None)
    assert len(piper_calls) <= 4 < 30


async def test_another_answer_s_first_clause_goes_ahead_of_later_clauses_not_needed_yet() -> None:
    tts = PiperTTS(clock=lambda: 0.0)  # time stands still: no later clause is due
    calls: list[str] = []
    holding, release = threading.Event(), threading.Event()
    synthesize = tts._synthesize_text

    def holding_on(piece: str) -> AudioFrame:  # "Hold on." keeps the worker until released
        calls.append(piece)
        if piece == "Hold on.":
            holding.set()
            release.wait(30)
        return synthesize(piece)

    tts._synthesize_text = holding_on  # type: ignore[method-assign]
    pieces = [piece.text for piece in speech_pieces(LONG_TEXT)]
    other = "Yes, the car is already waiting outside."
    try:
        answer = tts.synthesize_stream(LONG_TEXT)
        taken, yielded_s = 0, 0.0
        while yielded_s <= PLAYOUT_MARGIN_S:  # until its next piece is not needed yet
            yielded_s += (await anext(answer)).duration
            taken += 1
        hold = asyncio.create_task(tts.synthesize("Hold on."))
        await asyncio.to_thread(holding.wait, 30)
        later = asyncio.create_task(anext(answer))
        await asyncio.sleep(0)
        first = asyncio.create_task(anext(tts.synthesize_stream(other)))
        await asyncio.sleep(0)
        release.set()
        _, second_clause, other_first = await asyncio.gather(hold, later, first)
        await answer.aclose()
    finally:
        release.set()
        tts.close()
    assert calls == [*pieces[:taken], "Hold on.", other, pieces[taken]]
    assert other_first.duration > 1.0
    assert second_clause.duration > 1.0


async def test_partials_arrive_while_speech_goes_on(stt: FasterWhisperSTT, tts: PiperTTS) -> None:
    sentence = "The quick brown fox jumps over the lazy dog, and then it runs into the forest."
    speech = await tts.synthesize(sentence)
    resampler = Resampler(speech.sample_rate, 16000)
    stream = stt.stream(partial_interval=0.7)
    partials: list[tuple[float, str]] = []

    async def collect() -> None:
        async for partial in stream.partials():
            assert not partial.is_final
            partials.append((stream.duration, partial.text))

    collector = asyncio.create_task(collect())
    step = speech.sample_rate // 50
    for start in range(0, speech.num_samples, step):
        stream.push(resampler.process(AudioFrame(speech.samples[start : start + step], 22050)))
        await asyncio.sleep(0.02)
    stream.push(resampler.flush())
    pushed = stream.duration
    final = await stream.finish()
    await collector
    assert final.is_final
    # Piper samples each rendering anew: tiny.en heard some as "They quit brown fox..." (2 of 16)
    assert word_error_rate([(sentence, final.text)]) <= 0.15
    assert len(partials) >= 2
    assert partials[0][0] < pushed
    assert any(text for _, text in partials)


async def test_a_busy_whisper_skips_partials_and_reuses_the_pass_as_the_speaker_pauses(
    tts: PiperTTS, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whisper whose worker counts as too busy for partials once it has worked at all: the
    first partial runs, the next is skipped; the pass as the speaker pauses runs anyway and
    is the final transcript, with no pass after the end of the utterance."""
    sentence = "Please turn on the kitchen lights and close the blinds."
    speech = await tts.synthesize(sentence)
    audio = Resampler(speech.sample_rate, 16000).process(speech)
    assert audio.duration > 1.0 + 0.7  # the audio after the first second asks for a partial
    stt = FasterWhisperSTT(partial_busy_limit=0.0)
    try:
        passes: list[float] = []  # the seconds of audio of each pass the model made
        recognise_batch = stt.recognise_batch

        def counting(batch: Sequence[Utterance], *, leave_slow: bool = False) -> Any:
            passes.extend(utterance.audio.duration for utterance in batch)
            return recognise_batch(batch, leave_slow=leave_slow)

        skipped = asyncio.Event()
        transcribe_partial = stt.transcribe_partial

        async def watched(*args: Any, **options: Any) -> Transcript:
            try:
                return await transcribe_partial(*args, **options)
            except JobSkippedError:
                skipped.set()
                raise

        monkeypatch.setattr(stt, "recognise_batch", counting)
        monkeypatch.setattr(stt, "transcribe_partial", watched)
        stream = stt.stream(partial_interval=0.7)
        partials = stream.partials()
        stream.push(AudioFrame(audio.samples[:16000], 16000))  # 1 s
        first = await anext(partials)  # the worker was idle: the first partial runs
        stream.push(AudioFrame(audio.samples[16000:], 16000))
        await skipped.wait()  # the worker has worked: the next partial is skipped
        assert passes == [pytest.approx(1.0)]
        stream.settle()  # the speaker pauses: this pass runs
        paused = await anext(partials)
        final = await stream.finish()
        assert passes == [pytest.approx(1.0), pytest.approx(audio.duration)]
        assert first.text
        assert not first.is_final
        assert final.is_final
        assert final.text == paused.text
        assert word_error_rate([(sentence, final.text)]) <= 0.1
    finally:
        stt.close()


class LoopThreadProbe:
    """Records every call into the models' packages made on this (the event loop's) thread."""

    PACKAGES = frozenset({"faster_whisper", "ctranslate2", "piper", "onnxruntime"})

    def __init__(self) -> None:
        self.calls: set[str] = set()

    def __enter__(self) -> LoopThreadProbe:
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc_info: object) -> None:
        sys.setprofile(None)

    def _profile(self, frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            module = str(frame.f_globals.get("__name__", ""))
        elif event == "c_call":
            module = str(getattr(arg, "__module__", None) or "")
        else:
            return
        if module.partition(".")[0] in self.PACKAGES:
            self.calls.add(module)


async def test_the_models_never_run_on_the_event_loop_thread(
    stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    speech = await tts.synthesize(LONG_TEXT)
    with LoopThreadProbe() as probe:
        transcript, audio = await asyncio.gather(stt.transcribe(speech), tts.synthesize(LONG_TEXT))
    assert transcript.text
    assert audio.num_samples > 0
    assert probe.calls == set()

    with LoopThreadProbe() as control:  # the probe does see model code run on this thread
        faster_whisper.utils.available_models()
        onnxruntime.get_available_providers()
    assert {name.partition(".")[0] for name in control.calls} == {"faster_whisper", "onnxruntime"}

"""Batched recognition: utterances that wait together are recognised in one call, with the
transcripts each would get alone (the real Whisper models); with fakes: a batch that fails
falls back to one utterance at a time, so a bad one fails its own caller only, and a final
its batch leaves for a slow decode is finished alone, next, without its short decode again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.bench.espeak import espeak
from voicegate.bench.prompts import load_prompts
from voicegate.catalog import DEFAULT_STT_MODEL
from voicegate.inference import JobSkippedError, RunAlone
from voicegate.stt.base import Transcript
from voicegate.stt.wer import normalize, word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.stt.whisper_window import Heard, ShortWindowDecoder
from voicegate.stt.worker import GPU_MAX_BATCH, Utterance, WorkerSTT
from voicegate.tts.piper import PiperTTS

SENTENCES = [
    "Hello there.",
    "Turn it off.",
    "Please turn on the kitchen lights.",
    "Set an alarm for tomorrow morning.",
    "What is the weather like in Paris today?",
    "Call my sister and tell her I will be late for dinner tonight.",
]


def _batching(model: str) -> Iterator[FasterWhisperSTT]:
    """``model`` batching as on a GPU (on the CPU it recognises one utterance at a time)."""
    provider = FasterWhisperSTT(model, max_batch=GPU_MAX_BATCH)
    asyncio.run(provider.warm_up())
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def batching_stt() -> Iterator[FasterWhisperSTT]:
    yield from _batching(DEFAULT_STT_MODEL)


@pytest.fixture(scope="module")
def batching_stt_base() -> Iterator[FasterWhisperSTT]:
    yield from _batching("whisper-base")


class GatedSTT(WorkerSTT):
    """Hears each utterance's length; the first call blocks until :attr:`gate` opens, so
    the utterances sent meanwhile wait together. Its batched call fails whenever a batch
    holds a 0.5 s utterance; that utterance fails alone too. A 0.7 s utterance needs a
    slow decode, which a batch leaves to its rest. :attr:`calls` records each call: its kind
    and its utterances' lengths."""

    def __init__(self, max_batch: int = 8) -> None:
        super().__init__("gated-stt", max_queue=16, max_batch=max_batch)
        self.gate = threading.Event()
        self.calls: list[tuple[str, list[float]]] = []

    def recognise(
        self, audio: AudioFrame, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        self.calls.append(("alone", [audio.duration]))
        return self._heard(audio, language)

    def recognise_batch(
        self, utterances: Sequence[Utterance], *, leave_slow: bool = False
    ) -> list[Transcript | RunAlone[Transcript]]:
        self.calls.append(("batch", [u.audio.duration for u in utterances]))
        if any(u.audio.duration == 0.5 for u in utterances):
            raise ValueError("the model failed on this batch")
        return [
            RunAlone(partial(self._rest, u))
            if leave_slow and u.audio.duration == 0.7
            else self._heard(u.audio, u.language)
            for u in utterances
        ]

    def _rest(self, utterance: Utterance) -> Transcript:
        self.calls.append(("rest", [utterance.audio.duration]))
        return self._heard(utterance.audio, utterance.language)

    def _heard(self, audio: AudioFrame, language: str | None) -> Transcript:
        self.gate.wait(30)
        if audio.duration == 0.5:
            raise ValueError("the model failed on this utterance")
        return Transcript(f"{audio.duration:.1f} s", language or "en", audio.duration, 0.0)


async def heard_while_gated(stt: GatedSTT, durations: list[float]) -> list[str]:
    """The first utterance holds the worker while the others arrive; what each caller got."""
    first = asyncio.create_task(stt.transcribe(seconds(durations[0])))
    await asyncio.sleep(0.05)  # the worker took the first one; the next ones wait
    waiting = [asyncio.create_task(stt.transcribe(seconds(d))) for d in durations[1:]]
    await asyncio.sleep(0)
    stt.gate.set()
    try:
        heard = await asyncio.gather(first, *waiting, return_exceptions=True)
    finally:
        await asyncio.to_thread(stt.close)
    return [h.text if isinstance(h, Transcript) else str(h) for h in heard]


def seconds(duration: float) -> AudioFrame:
    return AudioFrame(np.zeros((int(16000 * duration), 1), dtype=np.int16), 16000)


async def test_a_failed_batch_is_recognised_one_by_one_and_fails_the_bad_utterance_only() -> None:
    stt = GatedSTT()
    assert await heard_while_gated(stt, [1.0, 2.0, 0.5, 3.0]) == [
        "1.0 s",
        "2.0 s",
        "the model failed on this utterance",
        "3.0 s",
    ]
    assert [kind for kind, _ in stt.calls] == ["batch", "batch", "alone", "alone", "alone"]
    assert stt.calls[1] == ("batch", [2.0, 0.5, 3.0])


async def test_a_final_its_batch_leaves_for_a_slow_decode_is_finished_alone_next() -> None:
    stt = GatedSTT(max_batch=3)
    assert await heard_while_gated(stt, [1.0, 2.0, 0.7, 3.0, 4.0]) == [
        "1.0 s",
        "2.0 s",
        "0.7 s",
        "3.0 s",
        "4.0 s",
    ]
    assert stt.calls == [
        ("batch", [1.0]),
        ("batch", [2.0, 0.7, 3.0]),
        ("rest", [0.7]),  # before the final that waited behind its batch
        ("batch", [4.0]),
    ]


async def test_a_partial_that_needs_a_slow_decode_is_skipped_unless_speculative() -> None:
    """A partial is optional: its slow decode would hold up every final that arrives while
    it runs. A speculative pass is likely the final's work, so it takes it, as a job of its
    own (the finals given meanwhile go first)."""
    stt = GatedSTT()
    stt.gate.set()
    try:
        with pytest.raises(JobSkippedError):
            await stt.transcribe_partial("caller", lambda: seconds(0.7))
        heard = await stt.transcribe_partial("caller", lambda: seconds(0.7), speculative=True)
        partial = await stt.transcribe_partial("caller", lambda: seconds(1.0))
    finally:
        await asyncio.to_thread(stt.close)
    assert (heard.text, partial.text) == ("0.7 s", "1.0 s")
    assert stt.calls == [  # the speculative pass's slow decode a job of its own
        ("batch", [0.7]),
        ("batch", [0.7]),
        ("rest", [0.7]),
        ("batch", [1.0]),
    ]


async def recognised_together(
    stt: FasterWhisperSTT, utterances: list[Utterance]
) -> tuple[list[Transcript], list[int]]:
    """The transcripts of ``utterances`` sent at once, and the batch sizes that ran."""
    sizes: list[int] = []
    recognise_batch = stt.recognise_batch

    def recording(
        batch: Sequence[Utterance], *, leave_slow: bool = False
    ) -> list[Transcript | RunAlone[Transcript]]:
        sizes.append(len(batch))
        return recognise_batch(batch, leave_slow=leave_slow)

    stt.recognise_batch = recording  # type: ignore[method-assign,assignment]
    try:
        heard = await asyncio.gather(*(stt.transcribe(u.audio, u.language) for u in utterances))
    finally:
        del stt.recognise_batch
    return heard, sizes


@pytest.mark.models
async def test_a_batch_gives_the_transcripts_of_one_by_one(
    batching_stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    stt = batching_stt
    speech = [await tts.synthesize(sentence) for sentence in SENTENCES]
    silence = AudioFrame(np.zeros((16000, 1), dtype=np.int16), 16000)
    utterances = [Utterance(audio) for audio in [*speech, silence]]
    alone = [await stt.transcribe(u.audio, u.language) for u in utterances]
    together, sizes = await recognised_together(stt, utterances)
    assert max(sizes) > 1  # the utterances that waited behind the first ran as one batch
    assert [t.text for t in together] == [t.text for t in alone]
    assert together[-1].text == ""
    assert word_error_rate(list(zip(SENTENCES, [t.text for t in together], strict=False))) < 0.2


@pytest.mark.models
async def test_on_the_cpu_finals_that_wait_together_are_recognised_one_by_one(
    stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    """The default on the CPU: no final waits for a batch's others (on CUDA, 8 a batch)."""
    if stt.device != "cpu":
        pytest.skip("a GPU machine: the default there batches")
    speech = [await tts.synthesize(sentence) for sentence in SENTENCES[:4]]
    alone = [await stt.transcribe(audio) for audio in speech]
    heard, sizes = await recognised_together(stt, [Utterance(audio) for audio in speech])
    assert sizes == [1, 1, 1, 1]
    # each what it is alone: Piper renders each sentence anew, and tiny.en heard one
    # rendering of "Set an alarm for tomorrow morning." as "and a long time for ..." (CI)
    assert [t.text for t in heard] == [t.text for t in alone]
    assert all(t.text for t in heard)


@pytest.mark.models
async def test_a_batch_says_each_repeating_decode_once(
    batching_stt: FasterWhisperSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recordings whose decode runs out repeating them (all but the last), in one batch,
    without the 30 s decode."""
    stt = batching_stt

    def no_full_window(*args: object) -> None:
        raise AssertionError("the 30 s decode ran")

    monkeypatch.setattr(stt, "_transcribe_full", no_full_window)
    names = ("digits/11", "vm-nomore", "cannot-complete-as-dialed", "vm-goodbye")
    prompts = {prompt.name: prompt for prompt in load_prompts() if prompt.name in names}
    utterances = [Utterance(prompts[name].audio(16000)) for name in names]
    alone = [await stt.transcribe(u.audio, u.language) for u in utterances]
    together, sizes = await recognised_together(stt, utterances)
    assert max(sizes) > 1
    assert [t.text for t in together] == [t.text for t in alone]
    assert [normalize(t.text) for t in together] == [normalize(prompts[n].text) for n in names]


def counting_decodes(
    stt: FasterWhisperSTT, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[int], list[int]]:
    """Lists that fill with the samples of each utterance a short decode (first list) and
    the 30 s decode (second) of ``stt`` read."""
    decoded: list[int] = []
    full: list[int] = []
    decode, transcribe_full = ShortWindowDecoder.decode, stt._transcribe_full

    def recorded(self: ShortWindowDecoder, samples: list[Any], *args: Any) -> list[Heard]:
        decoded.extend(len(audio) for audio in samples)
        return decode(self, samples, *args)

    def counted(samples: Any, *args: Any) -> Any:
        full.append(len(samples))
        return transcribe_full(samples, *args)

    monkeypatch.setattr(ShortWindowDecoder, "decode", recorded)
    monkeypatch.setattr(stt, "_transcribe_full", counted)
    return decoded, full


SLOW_PROMPTS = ("phonetic/g_p", "letters/ascii124")
"""Real recordings whose short decode and both second tries look failed to tiny.en: only the
30 s decode hears them ("Golf.", "Pipe.")."""


@pytest.mark.models
async def test_a_final_its_batch_leaves_gets_the_30s_decode_without_its_short_decode_again(
    batching_stt: FasterWhisperSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    stt = batching_stt
    decoded, full = counting_decodes(stt, monkeypatch)
    names = ("vm-goodbye", *SLOW_PROMPTS)
    prompts = {prompt.name: prompt for prompt in load_prompts() if prompt.name in names}
    utterances = [Utterance(prompts[name].audio(16000)) for name in names]
    together, sizes = await recognised_together(stt, utterances)
    assert sizes == [1, 2]  # the first ran alone, the two slow ones waited together
    assert [normalize(t.text) for t in together] == [normalize(prompts[n].text) for n in names]
    lengths = [u.audio.num_samples for u in utterances[1:]]
    assert sorted(full) == sorted(lengths)  # each slow one's 30 s decode, once
    for length in lengths:  # its short decode and the beam's try, once each: not again alone
        assert decoded.count(length) == 2, (length, decoded)


@pytest.mark.models
async def test_a_pause_pass_that_needs_the_30s_decode_gives_it_once_to_the_final(
    stt: FasterWhisperSTT, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The speaker paused after a word only the 30 s decode hears: the pause's pass takes
    its short decode and tries, then the 30 s decode as a job of its own; the final is that
    pass."""
    decoded, full = counting_decodes(stt, monkeypatch)
    [prompt] = [p for p in load_prompts() if p.name == SLOW_PROMPTS[0]]
    audio = prompt.audio(16000)
    stream = stt.stream(partial_interval=60.0)  # no partial but the pause's
    partials = stream.partials()
    stream.push(audio)
    stream.settle()
    async with asyncio.timeout(60):
        heard = await anext(partials)
    final = await stream.finish()
    assert normalize(heard.text) == normalize(final.text) == normalize(prompt.text)
    assert full == [audio.num_samples]
    assert decoded.count(audio.num_samples) == 2  # the short decode and the beam's try


@pytest.mark.models
async def test_a_batch_of_languages_gives_each_its_own(
    batching_stt_base: FasterWhisperSTT,
) -> None:
    stt_base = batching_stt_base
    utterances = [
        Utterance(espeak("The train leaves at eight in the morning.", "en")),
        Utterance(espeak("Wir fahren morgen mit dem Zug nach Berlin.", "de"), "de"),
        Utterance(
            espeak("Buenos días, quisiera reservar una mesa para dos personas esta noche.", "es")
        ),
        Utterance(espeak("El tren sale a las ocho de la mañana.", "es"), "es"),
    ]
    alone = [await stt_base.transcribe(u.audio, u.language) for u in utterances]
    together, sizes = await recognised_together(stt_base, utterances)
    assert max(sizes) > 1
    assert [(t.language, t.text) for t in together] == [(t.language, t.text) for t in alone]
    assert [t.language for t in together] == ["en", "de", "es", "es"]

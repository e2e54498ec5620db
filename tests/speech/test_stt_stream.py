"""STTStream's scheduling of passes, with a counting provider (unit test; the real model
runs in test_streaming.py and in the voice session tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Sequence
from functools import partial

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.inference import JobSkippedError, Pressure, RunAlone
from voicegate.stt.base import TENTATIVE_BUSY_LIMIT, STTProvider, Transcript
from voicegate.stt.worker import Utterance, WorkerSTT


class CountingSTT(STTProvider):
    """Answers with the number of samples it was given, after a short delay."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    async def transcribe(
        self, audio: AudioFrame, language: str | None = None, *, prompt: str | None = None
    ) -> Transcript:
        self.calls.append(audio.num_samples)
        await asyncio.sleep(0.02)
        return Transcript(str(audio.num_samples), language or "en", audio.duration, 0.02)


def _frames(count: int) -> list[AudioFrame]:
    return [AudioFrame(np.ones(320, dtype=np.int16), 16000) for _ in range(count)]


async def test_settle_makes_the_final_a_reuse_when_no_speech_follows() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=10.0)
    for frame in _frames(25):
        stream.push(frame)
    stream.settle()
    await asyncio.sleep(0.05)
    final = await stream.finish()
    assert final.text == str(25 * 320)
    assert final.is_final
    assert provider.calls == [25 * 320]  # one pass, done during the pause


async def test_settle_during_a_partial_chains_a_pass_over_everything() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=0.2)
    for frame in _frames(10):  # 0.2 s: a partial is asked for
        stream.push(frame)
    await asyncio.sleep(0)  # its turn comes: it takes the 10 frames
    for frame in _frames(5):
        stream.push(frame)
    stream.settle()  # the partial over 10 frames is still running
    final = await stream.finish()
    assert provider.calls == [10 * 320, 15 * 320]
    assert final.text == str(15 * 320)


async def test_a_partial_takes_the_audio_there_is_when_its_turn_comes() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=0.2)
    for frame in _frames(10):  # a partial is asked for ...
        stream.push(frame)
    for frame in _frames(5):  # ... and, before its turn came, more speech
        stream.push(frame)
    stream.settle()
    final = await stream.finish()
    assert provider.calls == [15 * 320]  # one pass over everything, reused as the final
    assert final.text == str(15 * 320)


async def test_speech_after_settle_cancels_the_pending_pass() -> None:
    provider = CountingSTT()
    stream = provider.stream(partial_interval=0.2)
    for frame in _frames(10):
        stream.push(frame)
    await asyncio.sleep(0)  # the partial starts
    stream.settle()  # nothing new since the running partial started: no extra pass
    for frame in _frames(2):
        stream.push(frame)  # speech resumed: the pending settle is dropped
    await asyncio.sleep(0.05)
    assert provider.calls == [10 * 320]
    final = await stream.finish()
    assert provider.calls == [10 * 320, 12 * 320]
    assert final.text == str(12 * 320)


class BusyWorkerSTT(WorkerSTT):
    """A recogniser on a worker thread (the lanes of the real ones) that counts the samples of
    each call; any time it has worked counts as too busy for a partial (limit 0).
    :attr:`skipped` is set once a partial was skipped."""

    def __init__(self) -> None:
        super().__init__("busy-worker-stt", max_queue=8, partial_busy_limit=0.0)
        self.calls: list[int] = []
        self.skipped = asyncio.Event()

    def recognise(
        self, audio: AudioFrame, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        self.calls.append(audio.num_samples)
        time.sleep(0.01)
        return Transcript(str(audio.num_samples), language or "en", audio.duration, 0.01)

    async def transcribe_partial(
        self,
        stream: Hashable,
        audio: Callable[[], AudioFrame],
        language: str | None = None,
        *,
        prompt: str | None = None,
        speculative: bool = False,
    ) -> Transcript:
        try:
            return await super().transcribe_partial(
                stream, audio, language, prompt=prompt, speculative=speculative
            )
        except JobSkippedError:
            self.skipped.set()
            raise


async def test_a_busy_recogniser_skips_partials_but_not_the_pass_as_the_speaker_pauses() -> None:
    provider = BusyWorkerSTT()
    try:
        stream = provider.stream(partial_interval=0.2)
        partials = stream.partials()
        for frame in _frames(10):  # 0.2 s: a partial; the worker was idle, so it runs
            stream.push(frame)
        assert (await anext(partials)).text == str(10 * 320)
        for frame in _frames(10):  # another partial: the worker has been busy, it is skipped
            stream.push(frame)
        await provider.skipped.wait()
        assert provider.calls == [10 * 320]
        stream.settle()  # the speaker pauses: this pass runs however busy the worker is
        assert (await anext(partials)).text == str(20 * 320)
        final = await stream.finish()
        assert provider.calls == [10 * 320, 20 * 320]  # the final reuses the paused pass
        assert final.text == str(20 * 320)
        assert final.is_final
        assert [partial.text async for partial in partials] == []
    finally:
        provider.close()


async def test_a_tentative_pause_gets_its_pass_only_from_a_recogniser_with_time_to_spare() -> None:
    idle = CountingSTT()  # no load measured: time to spare
    stream = idle.stream(partial_interval=10.0)
    for frame in _frames(25):
        stream.push(frame)
    stream.settle(tentative=True)
    assert (await stream.finish()).text == str(25 * 320)
    assert idle.calls == [25 * 320]  # the final reused the tentative pause's pass

    loaded = LoadedSTT()
    stream = loaded.stream(partial_interval=10.0)
    partials = stream.partials()
    for frame in _frames(25):
        stream.push(frame)
    stream.settle(tentative=True)  # perhaps a consonant's closure: a busy recogniser waits
    await asyncio.sleep(0.05)
    assert loaded.calls == []
    stream.settle()  # the pause lasted: its pass runs however busy the recogniser is
    assert (await anext(partials)).text == str(25 * 320)
    assert (await stream.finish()).text == str(25 * 320)
    assert loaded.calls == [25 * 320]


class LoadedSTT(CountingSTT):
    """A :class:`CountingSTT` whose load is over :data:`TENTATIVE_BUSY_LIMIT`."""

    def pressure(self) -> Pressure:
        return Pressure(waiting=0, wait_s=0.0, busy=TENTATIVE_BUSY_LIMIT + 0.5, required_busy=0.0)


class SlowDecodeSTT(WorkerSTT):
    """A recogniser on the real worker whose every short decode looks failed: a batch that
    may leave the slow ones leaves them all; ``calls`` counts the samples of each."""

    def __init__(self) -> None:
        super().__init__("slow-decode-stt", max_queue=8, partial_busy_limit=None)
        self.calls: list[int] = []

    def recognise(
        self, audio: AudioFrame, language: str | None = None, prompt: str | None = None
    ) -> Transcript:
        self.calls.append(audio.num_samples)
        return Transcript(str(audio.num_samples), language or "en", audio.duration, 0.0)

    def recognise_batch(
        self, utterances: Sequence[Utterance], *, leave_slow: bool = False
    ) -> list[Transcript | RunAlone[Transcript]]:
        if not leave_slow:
            return super().recognise_batch(utterances)
        self.calls.extend(utterance.audio.num_samples for utterance in utterances)
        return [RunAlone(partial(self.recognise, *utterance)) for utterance in utterances]


async def test_a_partial_left_while_the_speaker_paused_is_asked_again_as_the_pauses_pass() -> None:
    """The pause's words keep a half sentence open (voice/phrase_end.py): a partial over all
    the audio that was left must not leave the pause without them."""
    provider = SlowDecodeSTT()
    try:
        stream = provider.stream(partial_interval=0.2)
        partials = stream.partials()
        for frame in _frames(15):  # a partial is asked for at 0.2 s; its turn has not come
            stream.push(frame)
        stream.settle()  # the speaker pauses while it waits: it takes all 0.3 s, and is left
        async with asyncio.timeout(10):  # without the pause's pass, none would ever come
            partial = await anext(partials)
        assert partial.text == str(15 * 320)  # the pause's own pass gives it, with its rest
        assert provider.calls == [15 * 320] * 3
        final = await stream.finish()
        assert final.text == str(15 * 320)
        assert provider.calls == [15 * 320] * 3  # the final reuses the pause's pass
    finally:
        provider.close()

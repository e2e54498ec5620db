"""Speaks a session's answers, one after another; barge-in cancels the one playing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass

from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import Resampler
from voicegate.tts.base import TTSProvider, speech_pieces
from voicegate.voice.heard import Heard, words_heard
from voicegate.voice.notices import AnswerEnded, AnswerStarted
from voicegate.voice.recording import CallRecorder
from voicegate.voice.transport import VoiceTransport

logger = logging.getLogger(__name__)

ECHO_TAIL_S = 2.0
"""How long after an answer ends its words may still come back as echo (the client's
buffer, the room, the uplink)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """Text to speak, the room event it comes from, and who to tell how it went.

    ``response_id`` is the answer the event is a part of (``RoomEvent.response_id``),
    ``turn_id`` the turn it answers (if known). ``on_finished`` learns whether the answer was
    cut short, and what the caller heard of it if the client reported what it played.
    """

    text: str
    event_id: str
    response_id: str
    on_first_audio: Callable[[float], Awaitable[None]] | None = None
    on_finished: Callable[[bool, Heard | None], Awaitable[None]] | None = None
    turn_id: str | None = None


class Speaker:
    """Turns answers into audio on one transport, in order, one at a time.

    Each answer streams from the TTS provider clause by clause, is resampled to the
    transport's rate and queued for playout. :meth:`interrupt` cancels synthesis,
    flushes the transport and drops answers still waiting: interruption is cancellation.
    ``on_idle`` is awaited whenever the last answer has ended. Once :meth:`close` has
    begun, answers that still arrive (a delivery racing the session's end) are dropped, so
    no task of the speaker's outlives it.
    """

    def __init__(
        self,
        tts: TTSProvider,
        transport: VoiceTransport,
        max_pending: int = 16,
        on_idle: Callable[[], Awaitable[None]] | None = None,
        recorder: CallRecorder | None = None,
    ) -> None:
        self._tts = tts
        self._transport = transport
        self._recorder = recorder
        self._pending: asyncio.Queue[Answer] = asyncio.Queue(max_pending)
        self._current: asyncio.Task[None] | None = None
        self._current_answer: Answer | None = None
        self._spoken: list[tuple[str, float]] = []  # the current answer's clauses and their ms
        self._played_ms: int | None = None  # how much of it the client said it played
        self._runner: asyncio.Task[None] | None = None
        self._on_idle = on_idle
        self._ended: deque[tuple[float, str]] = deque()  # (when, text) of answers that ended
        self._closed = False

    @property
    def speaking(self) -> bool:
        """Whether an answer is being synthesised or played, or one is waiting."""
        return self._current is not None or not self._pending.empty()

    def answer_text(self) -> str:
        """The words of the answer being spoken and of those that ended in the last
        :data:`ECHO_TAIL_S` seconds: what an echo of the answers may say."""
        while self._ended and self._ended[0][0] < time.monotonic() - ECHO_TAIL_S:
            self._ended.popleft()
        texts = [text for _, text in self._ended]
        if self._current_answer is not None:
            texts.append(self._current_answer.text)
        return " ".join(texts)

    def say(self, answer: Answer) -> None:
        """Queue ``answer``; raises :class:`asyncio.QueueFull` when too many wait. After
        :meth:`close` the answer is dropped."""
        if self._closed:
            logger.info("answer %s not spoken: its session has ended", answer.event_id)
            return
        self._pending.put_nowait(answer)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run(), name="voicegate-speaker")

    def played(self, response_id: str, ms: int) -> None:
        """The client has played ``ms`` of the answer ``response_id`` (a ``played`` mark);
        a mark of any answer but the one speaking is stale and ignored."""
        answer = self._current_answer
        if answer is not None and answer.response_id == response_id:
            self._played_ms = max(ms, self._played_ms or 0)

    def stop(self) -> set[str]:
        """Stop now: drop the answers waiting, flush the transport and cancel the answer
        being spoken; returns the response ids of all of them. :meth:`stopped` waits for
        the cancelled answer to end."""
        cut = {self._current_answer.response_id} if self._current_answer is not None else set()
        while not self._pending.empty():
            cut.add(self._pending.get_nowait().response_id)
        self._transport.flush()
        if self._recorder is not None and cut:
            self._recorder.cut()
        if self._current is not None:
            self._current.cancel()
        return cut

    async def stopped(self) -> None:
        """Return once the answer cancelled by :meth:`stop` has ended."""
        if self._current is not None:
            await asyncio.gather(self._current, return_exceptions=True)

    async def interrupt(self) -> set[str]:
        """:meth:`stop`, then wait until it has taken effect; returns the response ids cut."""
        cut = self.stop()
        await self.stopped()
        return cut

    async def close(self) -> None:
        """Stop speaking, end the runner and drop every answer that still arrives."""
        self._closed = True
        await self.interrupt()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _run(self) -> None:
        while not self._pending.empty():
            answer = self._pending.get_nowait()
            self._current_answer = answer
            self._current = asyncio.create_task(self._speak(answer))
            try:
                await asyncio.shield(self._current)
            except asyncio.CancelledError:
                if not self._current.cancelled():
                    raise  # the runner itself is being cancelled
            except Exception:
                logger.exception("speaking answer %s failed", answer.event_id)
            finally:
                self._current = None
                self._current_answer = None
                self._ended.append((time.monotonic(), answer.text))
            if self._pending.empty() and self._on_idle is not None:
                await self._on_idle()  # an answer queued meanwhile keeps the loop going

    async def _speak(self, answer: Answer) -> None:
        interrupted = True
        self._spoken, self._played_ms = [], None
        ids = (answer.response_id, answer.turn_id)
        await self._transport.notify(AnswerStarted(answer.text, answer.event_id, *ids))
        if self._recorder is not None:
            self._recorder.said("answer", answer.text)
        try:
            await self._stream(answer)
            await self._transport.wait_played()
            interrupted = False
        finally:
            heard = None  # what a caller who cut the answer heard (not one who left)
            if interrupted and not self._closed and self._played_ms is not None:
                heard = Heard(self._played_ms, words_heard(self._spoken, self._played_ms))
            await self._transport.notify(AnswerEnded(answer.event_id, interrupted, *ids, heard))
            if answer.on_finished is not None:
                await answer.on_finished(interrupted, heard)

    async def _stream(self, answer: Answer) -> None:
        pieces = self._tts.synthesize_stream(answer.text)
        async with contextlib.aclosing(pieces):  # closed here even when cancelled
            await self._play(answer, pieces)

    async def _play(self, answer: Answer, pieces: AsyncGenerator[AudioFrame, None]) -> None:
        resampler: Resampler | None = None
        first = True
        clauses = iter(piece.text for piece in speech_pieces(answer.text))  # audio each
        async for chunk in pieces:
            self._spoken.append((next(clauses, ""), chunk.duration * 1000.0))
            if resampler is None and chunk.sample_rate != self._transport.output_rate:
                resampler = Resampler(chunk.sample_rate, self._transport.output_rate)
            out = resampler.process(chunk) if resampler else chunk
            await self._play_out(out)
            if first and answer.on_first_audio is not None:
                await answer.on_first_audio(time.monotonic())
            first = False
        if resampler is not None:
            await self._play_out(resampler.flush())

    async def _play_out(self, audio: AudioFrame) -> None:
        await self._transport.play(audio)
        if self._recorder is not None:
            self._recorder.answer(audio)

"""A voice session as a channel of its room: the caller's speech in, the answers spoken out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from voicegate.audio.endpoint import Endpointer, SpeechEnd, SpeechStart
from voicegate.audio.frame import AudioFrame
from voicegate.core.channels import Channel
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import (
    ChannelType,
    EventType,
    InboundMessage,
    RoomContext,
    RoomEvent,
    TextContent,
)
from voicegate.stt.base import STTProvider, STTStream, Transcript
from voicegate.tts.base import TTSProvider
from voicegate.voice.notices import (
    BargeIn,
    FinalTranscript,
    Notice,
    PartialTranscript,
    RoomEventNotice,
    SessionError,
    SpeechEnded,
    SpeechStarted,
    TurnMetrics,
)
from voicegate.voice.session import VoiceSession, VoiceSettings
from voicegate.voice.speaker import Answer, Speaker
from voicegate.voice.turns import TurnTimings

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)


class TurnObserver(Protocol):
    """Receives the timings of every finished turn (e.g. the gateway's metrics)."""

    def turn_finished(self, timings: TurnTimings) -> None: ...


class VoiceChannel(Channel):
    """Listens to one session's audio and speaks the room's answers on it.

    Inbound, per 16 kHz frame (:meth:`on_frame`): endpointing, streaming STT with
    partials, barge-in; at the end of an utterance the ON_TRANSCRIPTION hooks (fail
    closed), then ``process_inbound`` into the session's room. Outbound
    (:meth:`deliver`): every visible room event is forwarded to the client; text
    answers from ``speak_channel_types`` pass the BEFORE_TTS hooks (fail closed) and
    are spoken. Voice hooks get the session as their context.
    """

    channel_type = ChannelType.VOICE

    def __init__(
        self,
        session: VoiceSession,
        kit: RoomKit,
        stt: STTProvider,
        tts: TTSProvider,
        settings: VoiceSettings,
        observer: TurnObserver | None = None,
    ) -> None:
        super().__init__(session.channel_id)
        self.session = session
        self._kit = kit
        self._stt = stt
        self._settings = settings
        self._observer = observer
        self._speaker = Speaker(tts, session.transport)
        self._endpointer = Endpointer(
            start_ms=settings.speech_start_ms,
            hangover_ms=settings.end_of_speech_ms,
            preroll_ms=settings.preroll_ms,
            max_utterance_ms=settings.max_utterance_ms,
        )
        self._stream: STTStream | None = None
        self._held: list[AudioFrame] = []  # non-speech frames inside an utterance
        self._speech_start = 0.0
        self._barged_in = False
        self._turn: TurnTimings | None = None
        self._final_sent = False
        self._silenced: deque[str] = deque(maxlen=64)  # responses cut short by barge-in
        self._work: asyncio.Queue[Callable[[], Awaitable[None]]] = asyncio.Queue()
        self._runner = asyncio.create_task(self._run_work(), name=f"voice-{session.id}")
        self._tasks: set[asyncio.Task[None]] = set()
        session.transport.interrupt_handler = self.interrupt

    # ---- inbound ---------------------------------------------------------------------

    def on_frame(self, frame: AudioFrame, speech: bool, dbfs: float) -> None:
        """Process one 16 kHz mono frame of the caller's audio (called by the mixer)."""
        was_open = self._endpointer.in_speech
        for event in self._endpointer.push(frame, speech, dbfs):
            if isinstance(event, SpeechStart):
                self._open_utterance(event)
            else:
                self._close_utterance(event, frame)
        if was_open and self._endpointer.in_speech:
            self._feed(frame, speech)
        if self._endpointer.in_speech:
            self._check_barge_in(frame)

    def _open_utterance(self, start: SpeechStart) -> None:
        self._speech_start = start.timestamp
        self._barged_in = False
        self._stream = stream = self._stt.stream(self._settings.partial_interval_ms / 1000.0)
        if start.preroll.num_samples:
            stream.push(start.preroll)
        stream.push(start.speech)
        self._spawn(self._relay_partials(stream))
        self._post(self._notify_hooked, SpeechStarted(start.timestamp), HookTrigger.ON_SPEECH_START)

    def _feed(self, frame: AudioFrame, speech: bool) -> None:
        """Give the STT stream speech only: trailing silence is held back, and its first
        frame starts a pass over the speech so far, so the final is often ready early."""
        assert self._stream is not None
        if not speech:
            if not self._held:
                self._stream.settle()
            self._held.append(frame)
            return
        for held in self._held:
            self._stream.push(held)
        self._held.clear()
        self._stream.push(frame)

    def _close_utterance(self, end: SpeechEnd, frame: AudioFrame) -> None:
        now = time.monotonic()
        behind = frame.timestamp + frame.duration - end.timestamp
        turn = TurnTimings(speech_ended=now - behind, endpointed=now)
        stream, self._stream = self._stream, None
        self._held.clear()
        notice = SpeechEnded(end.timestamp, end.timestamp - end.start)
        self._post(self._notify_hooked, notice, HookTrigger.ON_SPEECH_END)
        if stream is not None:
            self._post(self._finish_turn, stream, turn)

    def _check_barge_in(self, frame: AudioFrame) -> None:
        spoken_ms = (frame.timestamp + frame.duration - self._speech_start) * 1000.0
        if (
            not self._barged_in
            and spoken_ms >= self._settings.barge_in_ms
            and self._speaker.speaking
        ):
            self._barged_in = True
            self._spawn(self.interrupt())

    async def interrupt(self) -> None:
        """Stop the answer playing, and the rest of its response (barge-in, or the client asked)."""
        cut = await self._speaker.interrupt()
        if cut:
            self._silenced.extend(cut)
            await self.session.transport.notify(BargeIn())
            await self._kit.hook_engine.run_all(
                HookTrigger.ON_BARGE_IN, BargeIn(), self.session, self.session.room_id
            )

    async def _relay_partials(self, stream: STTStream) -> None:
        async for partial in stream.partials():
            if stream is not self._stream:
                break  # the utterance ended: its final transcript follows instead
            await self.session.transport.notify(PartialTranscript(partial.text))
            await self._kit.hook_engine.run_all(
                HookTrigger.ON_PARTIAL_TRANSCRIPTION, partial, self.session, self.session.room_id
            )

    async def _finish_turn(self, stream: STTStream, turn: TurnTimings) -> None:
        transcript = await stream.finish()
        turn.transcribed = time.monotonic()
        if not transcript.text.strip():
            return
        outcome = await self._kit.hook_engine.run_sync(
            HookTrigger.ON_TRANSCRIPTION,
            transcript,
            self.session,
            room_id=self.session.room_id,
            origin=self.origin,
            fail_closed=True,
        )
        final: Transcript = outcome.payload
        if outcome.blocked:
            logger.info("session %s: transcript blocked by %s", self.session.id, outcome.blocked_by)
            await self.session.transport.notify(FinalTranscript(final.text, None))
            return
        self._turn = turn
        self._final_sent = False
        result = await self._kit.process_inbound(
            InboundMessage(
                channel_id=self.channel_id,
                sender_id=self.session.participant_id,
                content=TextContent(final.text, language=final.language),
                metadata={"voice": self._voice_metadata(final, turn)},
            ),
            room_id=self.session.room_id,
        )
        if result.blocked:
            logger.info("session %s: transcript not committed (%s)", self.session.id, result.reason)
        if not self._final_sent:  # blocked before commit: on_committed never saw it
            await self.session.transport.notify(FinalTranscript(final.text, None))

    async def on_committed(self, event: RoomEvent, context: RoomContext) -> None:
        """AFTER_BROADCAST room hook: the session's own transcript event was committed.

        It runs before the room's answers are made, so the client learns the final
        transcript and its event before it hears the answer.
        """
        if event.source.channel_id != self.channel_id or not isinstance(event.content, TextContent):
            return
        self._final_sent = True
        await self.session.transport.notify(FinalTranscript(event.content.body, event.id))
        await self.session.transport.notify(RoomEventNotice(event))

    def _voice_metadata(self, transcript: Transcript, turn: TurnTimings) -> dict[str, object]:
        return {
            "session_id": self.session.id,
            "audio_seconds": round(transcript.audio_duration, 3),
            "stt_ms": round(transcript.processing_time * 1000.0, 1),
            **turn.as_dict(),
        }

    # ---- outbound --------------------------------------------------------------------

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        """Forward ``event`` to the client and speak it if it is an answer."""
        await self.session.transport.notify(RoomEventNotice(event))
        content = event.content
        if (
            event.type is not EventType.MESSAGE
            or event.source.channel_type not in self._settings.speak_channel_types
            or not isinstance(content, TextContent)
            or not content.body.strip()
        ):
            return
        response_id = str(event.metadata.get("response_id", event.id))
        if response_id in self._silenced:
            return  # a later sentence of an answer the caller interrupted
        if self._turn is not None and self._turn.answered is None:
            self._turn.answered = time.monotonic()
        outcome = await self._kit.hook_engine.run_sync(
            HookTrigger.BEFORE_TTS,
            content.body,
            self.session,
            room_id=self.session.room_id,
            origin=self.origin,
            fail_closed=True,
        )
        if outcome.blocked:
            logger.info("session %s: answer %s blocked before TTS", self.session.id, event.id)
            return
        text: str = outcome.payload
        answer = Answer(text, event.id, response_id, self._first_audio, self._after_tts(text))
        try:
            self._speaker.say(answer)
        except asyncio.QueueFull:
            await self.session.transport.notify(SessionError("busy", "too many answers queued"))

    def _first_audio(self, at: float) -> None:
        turn = self._turn
        if turn is None or turn.answered is None or turn.first_audio is not None:
            return
        turn.first_audio = at
        self._turn = None
        if self._observer is not None:
            self._observer.turn_finished(turn)
        self._post(self.session.transport.notify, TurnMetrics(turn))

    def _after_tts(self, text: str) -> Callable[[bool], Awaitable[None]]:
        async def finished(interrupted: bool) -> None:
            if not interrupted:
                await self._kit.hook_engine.run_all(
                    HookTrigger.AFTER_TTS, text, self.session, self.session.room_id
                )

        return finished

    # ---- ordering and lifecycle -------------------------------------------------------

    def _post(self, fn: Callable[..., Awaitable[None]], *args: object) -> None:
        self._work.put_nowait(lambda: fn(*args))

    async def _notify_hooked(self, notice: Notice, trigger: HookTrigger) -> None:
        await self.session.transport.notify(notice)
        await self._kit.hook_engine.run_all(trigger, notice, self.session, self.session.room_id)

    async def _run_work(self) -> None:
        while True:
            job = await self._work.get()
            try:
                await job()
            except Exception:
                logger.exception("voice session %s: processing failed", self.session.id)
                await self.session.transport.notify(
                    SessionError("internal_error", "processing of your speech failed")
                )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Stop listening and speaking; pending work is dropped."""
        if self._stream is not None:
            self._stream.cancel()
        await self._speaker.close()
        for task in (*self._tasks, self._runner):
            task.cancel()
        await asyncio.gather(*self._tasks, self._runner, return_exceptions=True)

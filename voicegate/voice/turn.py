"""A caller's turns: from the final transcript through the room to the spoken answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from voicegate.core.hooks import HookOrigin, HookTrigger
from voicegate.core.models import ChannelType, EventType, InboundMessage, RoomEvent, TextContent
from voicegate.core.store import StoreUnavailableError
from voicegate.stt.base import Transcript
from voicegate.voice.heard import Heard
from voicegate.voice.notices import (
    BargeIn,
    FinalTranscript,
    RoomEventNotice,
    SessionError,
    TurnMetrics,
)
from voicegate.voice.session import VoiceSession
from voicegate.voice.speaker import Answer, Speaker
from voicegate.voice.turns import TurnTimings
from voicegate.voice.utterance_events import UtteranceHeard

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)

BUSY = "busy"
"""The error code of an answer the session did not speak: too many answers waiting."""
STORE_UNAVAILABLE = "store_unavailable"
"""The error code a caller gets when its transcript could not be stored; the session goes on."""
REMEMBERED_CUTS = 16
"""Interrupted responses a session remembers, to speak none of their late parts."""
REMEMBERED_TURNS = 64
"""How many of its room's latest turns a session knows, to tag the answers to them."""
_NOT_STORED = "the server cannot store your words now (its store fails); this turn got no answer"


class TurnObserver(Protocol):
    """Receives the timings of every finished turn (e.g. the gateway's metrics)."""

    def turn_finished(self, timings: TurnTimings) -> None: ...


class TurnRunner:
    """Carries each final transcript into the room and the room's answers to the speaker.

    A transcript passes the ON_TRANSCRIPTION hooks (fail closed) and enters the room with
    ``process_inbound``; the client learns the final transcript and its room event from
    :meth:`committed`, which the engine calls before any answer exists. Text answers from
    ``speak_channel_types`` pass the BEFORE_TTS hooks (fail closed) and are spoken;
    AFTER_TTS hooks see what was spoken to the end. :meth:`interrupt` stops the answer
    playing and cancels the rest of its response in the room, or drops the answer still
    being prepared (:attr:`thinking`). Each turn is timed from the end of speech to its
    first answer audio. ``on_floor`` is awaited whenever :attr:`thinking` may have changed.
    """

    MAX_DROPPED = 16
    """Transcripts whose answers are dropped when they come (interrupted while prepared)."""

    def __init__(
        self,
        session: VoiceSession,
        kit: RoomKit,
        speaker: Speaker,
        speak_channel_types: frozenset[ChannelType],
        origin: HookOrigin,
        observer: TurnObserver | None = None,
        on_floor: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._session = session
        self._kit = kit
        self._hooks = kit.hook_engine
        self._speaker = speaker
        self._speak_channel_types = speak_channel_types
        self._origin = origin
        self._observer = observer
        self._timings: TurnTimings | None = None  # the turn waiting for its first answer audio
        self._unsent_final: Transcript | None = None  # its commit not reported yet
        # responses the caller interrupted, newest last: a part of one that arrives later (it
        # was committed before the cancel took effect, maybe in another process) is not spoken
        self._cut: dict[str, None] = {}
        self._turns: dict[str, str] = {}  # turn ids of the room's latest turns, by event id
        self._taking = asyncio.Lock()
        self._on_floor = on_floor
        self._awaiting: str | None = None  # the transcript event whose answer is prepared
        self._dropped: deque[str] = deque(maxlen=self.MAX_DROPPED)
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def thinking(self) -> bool:
        """Whether a transcript's answer is being prepared (nothing of it spoken yet)."""
        return self._awaiting is not None

    async def typed(self, text: str, language: str | None) -> None:
        """The caller typed ``text`` (``say``): a turn like a spoken one, without audio."""
        transcript = Transcript(text, language or "", 0.0, 0.0)
        timings = TurnTimings(transcribed=time.monotonic())  # from here, as a spoken turn's
        await self.take(UtteranceHeard(transcript, timings), typed=True)

    async def take(self, utterance: UtteranceHeard, *, typed: bool = False) -> None:
        """Send the utterance's transcript into the room (unless a hook blocks it); one
        turn at a time, spoken or typed, in the order they come."""
        async with self._taking:
            await self._take(utterance, typed)

    async def _take(self, utterance: UtteranceHeard, typed: bool) -> None:
        session = self._session
        outcome = await self._hooks.run_sync(
            HookTrigger.ON_TRANSCRIPTION,
            utterance.transcript,
            session,
            room_id=session.room_id,
            origin=self._origin,
            fail_closed=True,
        )
        final: Transcript = outcome.payload
        turn_id = utterance.timings.turn_id
        language = final.language or None  # a typed turn has none unless the session has
        if outcome.blocked:
            logger.info("session %s: transcript blocked by %s", session.id, outcome.blocked_by)
            notice = FinalTranscript(final.text, None, language, turn_id)
            await session.transport.notify(notice)
            return
        self._timings = timings = utterance.timings
        self._unsent_final = final
        try:
            result = await self._kit.process_inbound(
                InboundMessage(
                    channel_id=session.channel_id,
                    sender_id=session.participant_id,
                    content=TextContent(final.text, language=language),
                    metadata={"voice": self._voice_metadata(final, timings, typed)},
                ),
                room_id=session.room_id,
            )
        except StoreUnavailableError as error:
            logger.error("session %s: transcript not stored: %s", session.id, error)
            self._timings = None
            await self._send_unsent_final()
            await session.transport.notify(SessionError(STORE_UNAVAILABLE, _NOT_STORED))
            return
        if result.blocked:
            logger.info("session %s: transcript not committed (%s)", session.id, result.reason)
        await self._send_unsent_final()  # not committed: the client still gets its words
        if self._awaiting is not None:  # no answer yet: one may still be streaming
            watcher = asyncio.create_task(self._await_answer(self._awaiting))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)

    async def _send_unsent_final(self) -> None:
        if (unsent := self._unsent_final) is not None:
            turn_id = self._timings.turn_id if self._timings is not None else None
            await self._session.transport.notify(
                FinalTranscript(unsent.text, None, unsent.language or None, turn_id)
            )
            self._unsent_final = None

    async def committed(self, event: RoomEvent) -> None:
        """The session's transcript became ``event``: tell the client, before any answer."""
        if not isinstance(event.content, TextContent):
            return
        self._unsent_final = None
        content = event.content
        turn_id = self.turn_of(event)
        await self._session.transport.notify(
            FinalTranscript(content.body, event.id, content.language, turn_id)
        )
        await self._session.transport.notify(RoomEventNotice(event, turn_id))
        self._awaiting = event.id
        await self._floor_changed()

    def turn_of(self, event: RoomEvent) -> str | None:
        """The turn ``event`` belongs to: the ``turn_id`` in its ``voice`` metadata (a
        caller's words), or that of the words it responds to; ``None`` for neither."""
        voice = event.metadata.get("voice")
        turn_id = voice.get("turn_id") if isinstance(voice, dict) else None
        if isinstance(turn_id, str):
            self._turns[event.id] = turn_id
            while len(self._turns) > REMEMBERED_TURNS:
                del self._turns[next(iter(self._turns))]
            return turn_id
        responds_to = event.metadata.get("responds_to")
        return self._turns.get(responds_to) if isinstance(responds_to, str) else None

    async def answer(self, event: RoomEvent) -> None:
        """Speak ``event`` if it is a text answer the session speaks."""
        content = event.content
        if (
            event.type is not EventType.MESSAGE
            or event.source.channel_type not in self._speak_channel_types
            or not isinstance(content, TextContent)
            or not content.body.strip()
        ):
            return
        response_id = event.response_id or event.id
        if response_id in self._cut:
            return  # a part of an answer the caller interrupted, committed as it was cut
        if event.metadata.get("responds_to") in self._dropped:
            await self._kit.cancel_response(response_id)  # interrupted while prepared
            return
        if self._timings is not None and self._timings.answered is None:
            self._timings.answered = time.monotonic()
        session = self._session
        outcome = await self._hooks.run_sync(
            HookTrigger.BEFORE_TTS,
            content.body,
            session,
            room_id=session.room_id,
            origin=self._origin,
            fail_closed=True,
        )
        if outcome.blocked:
            logger.info("session %s: answer %s blocked before TTS", session.id, event.id)
            return
        text: str = outcome.payload
        try:
            turn_id = self.turn_of(event)
            finished = self._after_tts(text, event, turn_id)
            self._speaker.say(
                Answer(text, event.id, response_id, self._first_audio, finished, turn_id)
            )
        except asyncio.QueueFull:
            await session.transport.notify(SessionError(BUSY, "too many answers queued"))
        self._awaiting = None
        await self._floor_changed()

    async def interrupt(self, barge_in: BargeIn | None) -> None:
        """Stop the answer playing and drop those waiting, or the answer being prepared;
        their responses stop streaming.

        ``barge_in``: the caller spoke over the answer, so the client is told it (before
        the answer's ``tts_end``) and the ON_BARGE_IN hooks run; ``None``: the client asked
        (``interrupt``) and gets only the ``tts_end``."""
        cut = self._speaker.stop()
        if self._awaiting is not None:
            self._dropped.append(self._awaiting)
            self._awaiting = None
        elif not cut:
            return
        session = self._session
        self._cut.update(dict.fromkeys(cut))
        while len(self._cut) > REMEMBERED_CUTS:
            del self._cut[next(iter(self._cut))]
        if barge_in is not None:
            await session.transport.notify(barge_in)
        await self._speaker.stopped()
        for response_id in cut:
            await self._kit.cancel_response(response_id)
        if barge_in is not None:
            await self._hooks.run_all(HookTrigger.ON_BARGE_IN, barge_in, session, session.room_id)
        await self._floor_changed()

    def close(self) -> None:
        """Stop waiting for answers."""
        for watcher in self._watchers:
            watcher.cancel()

    async def _await_answer(self, transcript_id: str) -> None:
        """Once no answer streams in the room, a transcript still unanswered gets none."""
        await self._kit.wait_answers(self._session.room_id)
        if self._awaiting == transcript_id:
            self._awaiting = None
            await self._floor_changed()

    async def _floor_changed(self) -> None:
        if self._on_floor is not None:
            await self._on_floor()

    async def _first_audio(self, at: float) -> None:
        timings = self._timings
        if timings is None or timings.answered is None or timings.first_audio is not None:
            return
        timings.first_audio = at
        self._timings = None
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "session %s (%s): turn %s at %s",
                self._session.id,
                self._session.transport.kind,
                timings.turn_id,
                timings.marks(),
            )
        if self._observer is not None:
            self._observer.turn_finished(timings)
        await self._session.transport.notify(TurnMetrics(timings))

    def _after_tts(
        self, text: str, answer: RoomEvent, turn_id: str | None
    ) -> Callable[[bool, Heard | None], Awaitable[None]]:
        async def finished(interrupted: bool, heard: Heard | None) -> None:
            session = self._session
            if not interrupted:
                await self._hooks.run_all(HookTrigger.AFTER_TTS, text, session, session.room_id)
            elif heard is not None:
                await self._record_heard(answer, turn_id, heard)

        return finished

    async def _record_heard(self, answer: RoomEvent, turn_id: str | None, heard: Heard) -> None:
        """What the caller heard of the cut ``answer`` becomes a ``system`` room event."""
        session = self._session
        record = {**heard.as_dict(), "event_id": answer.id, "response_id": answer.response_id}
        try:
            await self._kit.send_event(
                session.room_id,
                session.channel_id,
                TextContent(heard.text),
                EventType.SYSTEM,
                participant_id=session.participant_id,
                metadata={"heard": {**record, "turn_id": turn_id, "session_id": session.id}},
            )
        except StoreUnavailableError as error:
            logger.error(
                "session %s: what was heard of %s not stored: %s", session.id, answer.id, error
            )

    def _voice_metadata(
        self, transcript: Transcript, timings: TurnTimings, typed: bool
    ) -> dict[str, object]:
        return {
            "session_id": self._session.id,
            "audio_seconds": round(transcript.audio_duration, 3),
            "stt_ms": round(transcript.processing_time * 1000.0, 1),
            **timings.as_dict(),
            **({"typed": True} if typed else {}),
        }

"""A voice session as a channel of its room: a listener, the turns, and a speaker, wired."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from voicegate.audio.frame import AudioFrame
from voicegate.core.channels import Channel
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import ChannelType, EventType, RoomContext, RoomEvent
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.keypad import Keypad
from voicegate.voice.listener import (
    Listener,
    ListenerEvent,
    PartialHeard,
    SessionIdle,
    UtteranceHeard,
    UtteranceIgnored,
    UtteranceLost,
)
from voicegate.voice.notices import (
    BargeIn,
    Floor,
    Notice,
    PartialTranscript,
    RoomEventNotice,
    SessionError,
    SpeechEnded,
    SpeechIgnored,
    SpeechStarted,
    TurnState,
)
from voicegate.voice.outbox import TOO_SLOW
from voicegate.voice.protocol import CloseCode
from voicegate.voice.session import VoiceSession, VoiceSettings
from voicegate.voice.speaker import Speaker
from voicegate.voice.turn import TurnObserver, TurnRunner

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)

IDLE_TIMEOUT = "idle_timeout"
"""The close reason (code 4410) of a session without speech or answer for too long."""
FINISH_TURNS_TIMEOUT_S = 60.0
"""How long a session whose audio ended may still spend transcribing its last turns."""


class VoiceChannel(Channel):
    """One session's channel in its room.

    The :class:`Listener` hears the caller (:meth:`on_frame`, called by the inbound
    mixer); its events go to the client and the voice hooks in order, and each final
    transcript to the :class:`TurnRunner`, which sends it into the room and hands the
    room's answers (:meth:`deliver`) to the :class:`Speaker`. Every visible room event
    is forwarded to the client, and so is every change of the :class:`Floor`
    (``turn_state``). Voice hooks get the session as their context.
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
        turn_model: EndOfTurnModel | None = None,
    ) -> None:
        super().__init__(session.channel_id)
        self.session = session
        self._hooks = kit.hook_engine
        speaker = Speaker(tts, session.transport, on_idle=self._sync_floor)
        self._speaker = speaker
        self._turns = TurnRunner(
            session,
            kit,
            speaker,
            settings.speak_channel_types,
            self.origin,
            observer,
            on_floor=self._sync_floor,
        )
        self._listener = Listener(
            stt,
            settings,
            floor=self.floor,
            answer_text=speaker.answer_text,
            on_interrupt=self._barge_in,
            turn_model=turn_model,
        )
        self._told = Floor.LISTENING  # the floor the client knows
        self._keypad = Keypad(session, kit, self.origin)
        self._interrupts: set[asyncio.Task[None]] = set()
        self._relay = asyncio.create_task(self._relay_events(), name=f"voice-{session.id}")

    @property
    def listener(self) -> Listener:
        """Who hears the caller (the gateway asks it whether it has room for audio)."""
        return self._listener

    def on_frame(self, frame: AudioFrame, speech: bool, dbfs: float) -> None:
        """Process one 16 kHz mono frame of the caller's audio."""
        self._listener.on_frame(frame, speech, dbfs)

    def floor(self) -> Floor:
        """Whose turn it is now."""
        if self._speaker.speaking:
            return Floor.SPEAKING
        return Floor.THINKING if self._turns.thinking else Floor.LISTENING

    async def finish_turns(self) -> None:
        """The caller's audio ended (the client left, or the session is closing): the
        utterance in progress ends there, and it and every turn still waiting for the
        recogniser are transcribed and sent into the room, for at most
        ``FINISH_TURNS_TIMEOUT_S``. Answers are no longer spoken."""
        await self._speaker.close()
        self._listener.end_of_audio()
        done, _ = await asyncio.wait({self._relay}, timeout=FINISH_TURNS_TIMEOUT_S)
        if not done:
            logger.warning(
                "voice session %s: its last turns were not transcribed within %.0f s",
                self.session.id,
                FINISH_TURNS_TIMEOUT_S,
            )

    async def interrupt(self) -> None:
        """The client asked to stop the answer (and the rest of its response)."""
        await self._turns.interrupt(BargeIn(during=self.floor().value))

    def press(self, key: DTMFDigit) -> None:
        """The caller pressed ``key``: it goes into the room (see :class:`Keypad`)."""
        self._keypad.press(key)

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        """Forward ``event`` to the client and speak it if it is an answer."""
        await self.session.transport.notify(RoomEventNotice(event))
        await self._turns.answer(event)

    async def on_committed(self, event: RoomEvent, context: RoomContext) -> None:
        """The session's transcript (or key press) was committed: the client learns it
        before any answer."""
        if event.type is EventType.DTMF:
            await self.session.transport.notify(RoomEventNotice(event))
        else:
            await self._turns.committed(event)

    async def on_dropped(self, room_id: str) -> None:
        """The room dropped the session for falling behind: it ends (4429 ``too_slow``)."""
        await self.session.transport.close(CloseCode.TOO_SLOW, TOO_SLOW)

    async def close(self) -> None:
        """Stop listening and speaking; pending work is dropped."""
        self._listener.close()
        self._turns.close()
        await self._keypad.close()
        await self._speaker.close()
        for task in (*self._interrupts, self._relay):
            task.cancel()
        await asyncio.gather(*self._interrupts, self._relay, return_exceptions=True)

    def _barge_in(self, barge_in: BargeIn) -> None:
        task = asyncio.create_task(self._turns.interrupt(barge_in))
        self._interrupts.add(task)
        task.add_done_callback(self._interrupts.discard)

    async def _sync_floor(self) -> None:
        floor = self.floor()
        if floor is not self._told:
            self._told = floor
            await self.session.transport.notify(TurnState(floor))

    async def _relay_events(self) -> None:
        async for event in self._listener.events():
            try:
                await self._handle(event)
            except Exception:
                logger.exception("voice session %s: processing failed", self.session.id)
                await self._processing_failed()

    async def _handle(self, event: ListenerEvent) -> None:
        match event:
            case SpeechStarted():
                await self._announce(event, event, HookTrigger.ON_SPEECH_START)
            case SpeechEnded():
                await self._announce(event, event, HookTrigger.ON_SPEECH_END)
            case PartialHeard(transcript=partial):
                notice = PartialTranscript(partial.text)
                await self._announce(notice, partial, HookTrigger.ON_PARTIAL_TRANSCRIPTION)
            case UtteranceHeard():
                await self._turns.take(event)
            case UtteranceIgnored(transcript=transcript, reason=reason):
                await self.session.transport.notify(SpeechIgnored(reason, transcript.text))
            case UtteranceLost():
                await self._processing_failed()
            case SessionIdle(seconds=seconds):
                logger.info("session %s idle for %.0f s: closing it", self.session.id, seconds)
                await self.session.transport.close(CloseCode.IDLE_TIMEOUT, IDLE_TIMEOUT)

    async def _announce(self, notice: Notice, payload: object, trigger: HookTrigger) -> None:
        session = self.session
        await session.transport.notify(notice)
        await self._hooks.run_all(trigger, payload, session, session.room_id)

    async def _processing_failed(self) -> None:
        await self.session.transport.notify(
            SessionError("internal_error", "processing of your speech failed")
        )

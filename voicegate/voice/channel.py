"""A voice session as a channel of its room: a listener, the turns, and a speaker, wired."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from voicegate.audio.frame import AudioFrame
from voicegate.core.channels import Channel
from voicegate.core.hooks import HookTrigger
from voicegate.core.models import (
    ChannelType,
    EventType,
    RoomContext,
    RoomEvent,
    TextContent,
    Visibility,
)
from voicegate.core.store import StoreUnavailableError
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider
from voicegate.voice.client_messages import (
    ClientMessage,
    Commit,
    Interrupt,
    Played,
    PostText,
    Say,
    SessionUpdate,
)
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.keypad import Keypad
from voicegate.voice.listener import Listener
from voicegate.voice.notices import (
    BargeIn,
    Floor,
    Notice,
    PartialTranscript,
    RoomEventNotice,
    SessionError,
    SessionUpdated,
    SpeechEnded,
    SpeechIgnored,
    SpeechStarted,
    TurnState,
)
from voicegate.voice.outbox import TOO_SLOW
from voicegate.voice.protocol import CloseCode
from voicegate.voice.recording import CallRecorder
from voicegate.voice.session import VoiceSession, VoiceSettings
from voicegate.voice.speaker import Speaker
from voicegate.voice.turn import STORE_UNAVAILABLE, TurnObserver, TurnRunner
from voicegate.voice.utterance_events import (
    ListenerEvent,
    PartialHeard,
    SessionIdle,
    UtteranceHeard,
    UtteranceIgnored,
    UtteranceLost,
)

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)

AUDIO_DROPPED = "audio_dropped"
"""The error code of audio refused for running ahead of real time (``docs/protocol.md``)."""
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
    (``turn_state``). Voice hooks get the session as their context. What cannot wait for
    an earlier utterance's transcript goes out at once, in the order it happens:
    ``speech_start``, the barge-in that follows it, and the notice of refused audio
    (:meth:`audio_refused`).
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
        recorder: CallRecorder | None = None,
    ) -> None:
        super().__init__(session.channel_id)
        self.session = session
        self.recorder = recorder
        self._kit = kit
        self._hooks = kit.hook_engine
        self._language = settings.stt_language
        speaker = Speaker(tts, session.transport, on_idle=self._sync_floor, recorder=recorder)
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
        self._urgent: asyncio.Queue[Notice] = asyncio.Queue()  # a BargeIn: interrupt
        self._listener = Listener(
            stt,
            settings,
            floor=self.floor,
            answer_text=speaker.answer_text,
            on_speech_start=self._urgent.put_nowait,
            on_interrupt=self._urgent.put_nowait,
            turn_model=turn_model,
        )
        self._told = Floor.LISTENING  # the floor the client knows
        self._keypad = Keypad(session, kit, self.origin)
        self._relay = asyncio.create_task(self._relay_events(), name=f"voice-{session.id}")
        self._urgent_relay = asyncio.create_task(
            self._relay_urgent(), name=f"voice-urgent-{session.id}"
        )

    @property
    def listener(self) -> Listener:
        """Who hears the caller (the gateway asks it whether it has room for audio)."""
        return self._listener

    def on_frame(self, frame: AudioFrame, speech: bool, dbfs: float) -> None:
        """Process one 16 kHz mono frame of the caller's audio."""
        if self.recorder is not None:
            self.recorder.caller(frame)
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
        ``FINISH_TURNS_TIMEOUT_S``. Answers are no longer spoken; a recording ends here,
        with the audio (the transcripts that follow still go into its transcript)."""
        if self.recorder is not None:
            self.recorder.end()
        await self._speaker.close()
        self._listener.end_of_audio()
        done, _ = await asyncio.wait({self._relay}, timeout=FINISH_TURNS_TIMEOUT_S)
        if not done:
            logger.warning(
                "voice session %s: its last turns were not transcribed within %.0f s",
                self.session.id,
                FINISH_TURNS_TIMEOUT_S,
            )

    async def on_message(self, message: ClientMessage) -> None:
        """A message from the client: ``interrupt`` stops the answer playing and the rest of
        its response; a ``played`` mark says how much of the answer the caller heard; ``say``
        is a typed turn; ``text`` a message for the room's people that no one answers;
        ``session.update`` changes the session's settings (answered with those in force),
        and ``commit`` ends the caller's turn (push-to-talk)."""
        match message:
            case Interrupt():
                await self._turns.interrupt(None)
            case Played(response_id=response_id, ms=ms):
                self._speaker.played(response_id, ms)
            case Say(text=text):
                await self._turns.typed(text, self._language)
            case PostText(text=text):
                await self._post_text(text)
            case SessionUpdate(changes=changes):
                self._listener.update(replace(self._listener.live, **changes))
                await self.session.transport.notify(SessionUpdated(self._listener.live))
            case Commit():
                self._listener.commit()

    async def _post_text(self, text: str) -> None:
        session = self.session
        try:
            await self._kit.send_event(
                session.room_id,
                session.channel_id,
                TextContent(text),
                participant_id=session.participant_id,
                visibility=Visibility.TRANSPORT,  # the room's people, not its intelligence
                metadata={"text": {"session_id": session.id}},
            )
        except StoreUnavailableError as error:
            logger.error("session %s: text not stored: %s", session.id, error)
            message = "the server cannot store your text now (its store fails)"
            await session.transport.notify(SessionError(STORE_UNAVAILABLE, message))

    def audio_refused(self, burst_s: float) -> None:
        """The caller's audio runs over ``burst_s`` ahead of real time: the rest is dropped."""
        message = (
            f"audio sent more than {burst_s:g} s ahead of real time is dropped; "
            "send it no faster than it plays"
        )
        self._urgent.put_nowait(SessionError(AUDIO_DROPPED, message))

    def press(self, key: DTMFDigit) -> None:
        """The caller pressed ``key``: it goes into the room (see :class:`Keypad`)."""
        self._keypad.press(key)

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        """Forward ``event`` to the client and speak it if it is an answer."""
        await self.session.transport.notify(RoomEventNotice(event, self._turns.turn_of(event)))
        await self._turns.answer(event)

    async def on_committed(self, event: RoomEvent, context: RoomContext) -> None:
        """The session's event was committed: the client learns it before any answer. The
        caller's words (spoken, or typed with ``say``: ``voice`` metadata) are a turn; a key
        press, a posted ``text`` or what the caller heard of a cut answer is only told."""
        if event.type is EventType.MESSAGE and "voice" in event.metadata:
            if self.recorder is not None and isinstance(event.content, TextContent):
                self.recorder.said("caller", event.content.body)
            await self._turns.committed(event)
        else:
            await self.session.transport.notify(RoomEventNotice(event))

    async def on_dropped(self, room_id: str) -> None:
        """The room dropped the session for falling behind: it ends (4429 ``too_slow``)."""
        await self.session.transport.close(CloseCode.TOO_SLOW, TOO_SLOW)

    async def close(self) -> None:
        """Stop listening and speaking; pending work is dropped."""
        self._listener.close()
        self._turns.close()
        await self._keypad.close()
        await self._speaker.close()
        for task in (self._relay, self._urgent_relay):
            task.cancel()
        await asyncio.gather(self._relay, self._urgent_relay, return_exceptions=True)

    async def _relay_urgent(self) -> None:
        while True:
            notice = await self._urgent.get()
            try:
                if isinstance(notice, BargeIn):
                    await self._turns.interrupt(notice)
                else:
                    await self.session.transport.notify(notice)
            except Exception:
                logger.exception("voice session %s: barge-in failed", self.session.id)

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
            case SpeechStarted():  # the client was told at once
                session = self.session
                await self._hooks.run_all(
                    HookTrigger.ON_SPEECH_START, event, session, session.room_id
                )
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

"""Listens to one caller: endpointing, the end of turn, the streamed transcription and
whether speech interrupts an answer."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable

from voicegate.audio.endpoint import Endpointer, SpeechEnd, SpeechStart
from voicegate.audio.frame import AudioFrame
from voicegate.endofturn.base import EndOfTurnModel
from voicegate.stt.base import STTProvider, STTStream
from voicegate.voice.canceller_view import CancellerView
from voicegate.voice.idle import IdleWatch
from voicegate.voice.live_settings import LiveSettings
from voicegate.voice.notices import BargeIn, Floor, SpeechEnded, SpeechStarted
from voicegate.voice.over_answer import OverAnswer
from voicegate.voice.overlap import Overlap
from voicegate.voice.session import EndOfTurn, VoiceSettings
from voicegate.voice.turn_end import SemanticTurnEnd
from voicegate.voice.turns import TurnTimings
from voicegate.voice.utterance import Transcribing, Utterance, lead_in
from voicegate.voice.utterance_events import (
    ListenerEvent,
    PartialHeard,
    SessionIdle,
    UtteranceHeard,
    UtteranceIgnored,
    UtteranceLost,
)
from voicegate.voice.waiting_turns import WaitingTurns

TENTATIVE_PAUSE_MS = 40
"""Quiet this long asks for a pass over the speech so far, which a busy recogniser skips:
it may be the closure of a stop consonant (50-80 ms)."""
PAUSE_MS = 80
"""Quiet this long is a pause: it asks for the pass however busy the recogniser is."""

logger = logging.getLogger(__name__)


class _EndOfAudio:
    """The caller's audio ended: :meth:`Listener.events` stops after what came before."""


class Listener:
    """Turns one session's 16 kHz frames into utterance events.

    :meth:`on_frame` runs the endpointer and streams the speech (not the silence that may end
    it) to the recogniser; a pause (:data:`PAUSE_MS`, or :data:`TENTATIVE_PAUSE_MS` for a
    recogniser with time to spare) starts a pass, so the final transcript is often ready when
    the turn ends. The turn ends after ``end_of_speech_ms`` of silence (``fixed``) or when
    :class:`SemanticTurnEnd` says so (``semantic``, with ``turn_model``), or at the client's
    :meth:`commit` alone (push-to-talk, :attr:`live`). :meth:`events` yields every event in
    order: an utterance's :class:`UtteranceHeard` (or :class:`UtteranceIgnored`,
    :class:`UtteranceLost`) comes before anything of the next one.

    The barge-in decision does not wait for that order: ``on_speech_start`` is called at once
    with each :class:`SpeechStarted` (which :meth:`events` also yields, in order). Speech that
    begins while ``floor()`` is ``thinking`` or ``speaking`` is judged by :class:`OverAnswer`
    as it goes (its length, its partial transcripts, then its final one, against
    ``answer_text()``); ``on_interrupt`` is called at once when it interrupts (never while the
    client turned ``interruptions`` off). When the caller does not speak and the floor stays
    ``listening`` for ``idle_timeout_ms`` of the caller's audio (silence fed in for a stalled
    client counts), :class:`SessionIdle` follows, once.

    No utterance is ever dropped: ended utterances wait for the recogniser as
    :class:`WaitingTurns`, which bounds them by joining, then by holding the caller's audio back
    (:attr:`has_room`). :meth:`end_of_audio` ends the utterance in progress and lets
    :meth:`events` finish the waiting turns, then stop.
    """

    def __init__(
        self,
        stt: STTProvider,
        settings: VoiceSettings,
        *,
        floor: Callable[[], Floor],
        answer_text: Callable[[], str],
        on_speech_start: Callable[[SpeechStarted], None],
        on_interrupt: Callable[[BargeIn], None],
        turn_model: EndOfTurnModel | None = None,
    ) -> None:
        self._stt = stt
        self._settings = settings
        self._floor = floor
        self._on_speech_start = on_speech_start
        self._over_answer = OverAnswer(floor, answer_text, on_interrupt)
        semantic = settings.end_of_turn is EndOfTurn.SEMANTIC
        if semantic and turn_model is None:
            raise ValueError("the semantic end of turn needs an end-of-turn model")
        self._endpointer = Endpointer(
            start_ms=settings.speech_start_ms,
            hangover_ms=settings.max_silence_ms if semantic else settings.end_of_speech_ms,
            preroll_ms=settings.preroll_ms,
            max_utterance_ms=settings.max_utterance_ms,
        )
        self._turn_end = (
            SemanticTurnEnd(turn_model, settings, self._end_turn)
            if semantic and turn_model is not None
            else None
        )
        self._utterance: Utterance | None = None
        self._live = LiveSettings(settings.end_of_speech_ms, settings.barge_in_ms)
        self._held: list[AudioFrame] = []  # quiet frames inside the utterance
        self._last_frame: AudioFrame | None = None
        self._ending: asyncio.Handle | None = None  # the semantic end of turn, once heard all
        self._waiting = WaitingTurns()
        self._joined: Transcribing | None = None  # the waiting turn the utterance joined
        self._turn_from = -1.0  # stream time where the last utterance that was a turn began
        self._closed_at: float | None = None  # where the last utterance's speech ended
        self._hearing_raw = False  # the frames taken are a cut sound's, given back raw
        self._idle = IdleWatch(settings.idle_timeout_ms / 1000.0)
        self._events: asyncio.Queue[ListenerEvent | Transcribing | _EndOfAudio] = asyncio.Queue()
        self._relays: set[asyncio.Task[None]] = set()

    @property
    def canceller(self) -> CancellerView:
        """The session's echo canceller, if it has one (the gateway sets it)."""
        return self._over_answer.canceller

    @canceller.setter
    def canceller(self, canceller: CancellerView) -> None:
        self._over_answer.canceller = canceller

    def on_frame(self, frame: AudioFrame, speech: bool, dbfs: float) -> None:
        """Take the next frame of the caller's audio with its speech decision and level.

        Every decision is made on this audio; but where the echo canceller cut the start of the
        open utterance and passes the raw sound now (:attr:`canceller`), the recogniser is
        given the raw audio of the utterance from its start instead, in a new stream; and a
        sound it cut before any utterance heard it is heard again as it was, in place of what
        was heard then (:meth:`CancellerView.cut_speech`), once it passes the raw sound.
        """
        cut = [] if self._endpointer.in_speech else self.canceller.cut_speech(frame.num_samples)
        if not self._hear_again(cut):
            self._take(frame, speech, dbfs)

    def _hear_again(self, cut: list[tuple[AudioFrame, bool]]) -> bool:
        """Hear the frames of a sound the echo canceller cut (the last one is the frame that
        came now), raw, in place of what was heard then (nothing, or a fragment that made no
        turn); not where an utterance begun since was a turn. Whether it did.

        A fragment that made no turn may still have had words: prompted with acknowledgements,
        Whisper heard the cut end of "Stop." as "Uh-huh.", and the word, heard again whole, is
        a turn."""
        if not cut or (since := cut[0][0].timestamp) <= self._turn_from + 1e-9:
            return False
        logger.debug("a sound the echo canceller cut from %.2f s is heard again", since)
        self._endpointer.rewind(since)
        self._hearing_raw = True  # an utterance opened now has the raw audio
        for frame, speech in cut:
            self._take(frame, speech, frame.dbfs())
        self._hearing_raw = False
        return True

    def _take(self, frame: AudioFrame, speech: bool, dbfs: float) -> None:
        self._last_frame = frame
        was_open = self._endpointer.in_speech
        for event in self._endpointer.push(frame, speech, dbfs):
            if isinstance(event, SpeechStart):
                self._open(event)
            else:
                self._close(event, behind=frame.timestamp + frame.duration - event.timestamp)
        if was_open and self._endpointer.in_speech:
            self._keep_for_model(frame)
            self._feed(frame, self._endpointer.sounding, voiced=speech)
        if (utterance := self._utterance) is not None:
            self._over_answer.on_frame(utterance, speech, self._spoken_ms(utterance))
            self._take_raw(utterance)
        self._check_idle(frame)

    async def events(self) -> AsyncIterator[ListenerEvent]:
        """The utterance events, in order, as they happen; they end after
        :meth:`end_of_audio` once every turn before it is transcribed."""
        while True:
            item = await self._events.get()
            if isinstance(item, _EndOfAudio):
                return
            if not isinstance(item, Transcribing):
                yield item
                continue
            while not item.ended.is_set():  # an utterance joining it is under way
                await item.ended.wait()  # (and another may join before this wakes up)
            self._waiting.take_oldest()  # no await since the check: nothing joins it now
            heard = await self._transcribe(item)
            if heard is not None:
                yield heard

    @property
    def live(self) -> LiveSettings:
        """The settings the client may change, as they are now."""
        return self._live

    def update(self, live: LiveSettings) -> None:
        """Take the client's settings from now on (an utterance in progress too); in the
        ``semantic`` mode, ``end_of_speech_ms`` gives way to the end-of-turn model and
        ``max_silence_ms``."""
        self._live = live
        silence_ms = self._settings.max_silence_ms if self._turn_end else live.end_of_speech_ms
        self._endpointer.hangover_s = math.inf if live.manual else silence_ms / 1000

    def commit(self) -> None:
        """The client ends the caller's turn (push-to-talk): the utterance in progress ends
        here; without one, nothing happens."""
        self._flush()

    @property
    def has_room(self) -> bool:
        """Whether the caller's audio may be taken now: False while the recogniser is so far
        behind that the waiting turns are full."""
        return self._waiting.has_room

    async def room_for_audio(self) -> None:
        """Return once :attr:`has_room`."""
        await self._waiting.room_for_audio()

    def end_of_audio(self) -> None:
        """The caller's audio ended: the utterance in progress ends here, and
        :meth:`events` ends once every waiting turn is transcribed."""
        self._flush()
        self._events.put_nowait(_EndOfAudio())

    def close(self) -> None:
        """Stop listening: the utterance in progress is dropped."""
        self._cancel_ending()
        if self._utterance is not None:
            self._utterance.stream.cancel()
        if self._turn_end is not None:
            self._turn_end.close()
        for relay in self._relays:
            relay.cancel()

    def _open(self, start: SpeechStart) -> None:
        started = SpeechStarted(start.timestamp)
        self._on_speech_start(started)
        self._events.put_nowait(started)
        overlap = Overlap.begin(self._floor(), self._settings, self._live)
        self._joined = joined = self._waiting.join_latest(start.speech.sample_rate)
        if joined is not None:
            stream = joined.utterance.stream
            # the raw audio is not given to a joined stream (``raw``): it holds other audio
            self._utterance = Utterance(stream, start.timestamp, start.timestamp, overlap, True)
        else:
            audio_start = start.preroll.timestamp if start.preroll.num_samples else start.timestamp
            stream = self._new_stream(overlap)
            self._utterance = Utterance(
                stream, start.timestamp, audio_start, overlap, raw=self._hearing_raw
            )
            self._relay(self._utterance)
            if (silence := lead_in(start, self._settings.preroll_ms)) is not None:
                stream.push(silence)
        for audio in (start.preroll, start.speech):
            if audio.num_samples:
                stream.push(audio)
                self._keep_for_model(audio)
        if self._turn_end is not None:
            self._turn_end.begin(over_answer=overlap is not None)

    def _new_stream(self, overlap: Overlap | None) -> STTStream:
        """A stream for an utterance, with the prompt :meth:`OverAnswer.prompt` gives it."""
        return self._stt.stream(
            self._settings.partial_interval_ms / 1000.0,
            self._settings.stt_language,
            prompt=self._over_answer.prompt(overlap),
        )

    def _relay(self, utterance: Utterance) -> None:
        """Relay the partials of the utterance's stream while it is open."""
        relay = asyncio.create_task(self._relay_partials(utterance, utterance.stream))
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)

    def _take_raw(self, utterance: Utterance) -> None:
        """Give the recogniser the utterance's raw audio where the canceller has it, not
        the audio of an utterance before it (the canceller gives from the start of a sound
        it cut, which may have been the last utterance, heard already: Whisper then heard
        "please" as "I would like a window seat, please.", a turn heard twice)."""
        if utterance.raw:
            return
        if (raw := self.canceller.raw_since(utterance.audio_start, self._closed_at)) is None:
            return
        self._held = utterance.take_raw(raw, self._new_stream(utterance.overlap), self._held)
        self._relay(utterance)
        logger.debug("the recogniser gets the raw audio from %.2f s on", raw.timestamp)

    def _feed(self, frame: AudioFrame, speech: bool, *, voiced: bool) -> None:
        """Give the stream the utterance's sounds (:attr:`Endpointer.sounding`) only: the
        frames of a pause wait until speech follows them, and ask for a pass over the
        speech so far at :data:`TENTATIVE_PAUSE_MS` and :data:`PAUSE_MS`. The VAD
        (``voiced``) flags the first 100-150 ms of a pause as speech; the turn ends only
        where it agrees (:meth:`SemanticTurnEnd.quiet`)."""
        if self._utterance is None:
            return
        stream = self._utterance.stream
        if not speech:
            self._held.append(frame)
            silence = frame.timestamp + frame.duration - self._endpointer.last_sound_end
            for pause_ms in (TENTATIVE_PAUSE_MS, PAUSE_MS):
                if silence - frame.duration < pause_ms / 1000 <= silence + 1e-9:
                    stream.settle(tentative=pause_ms < PAUSE_MS)
            if self._turn_end is not None:
                self._turn_end.quiet(silence, voiced=voiced)
            return
        for held in self._held:
            stream.push(held)
        self._held.clear()
        stream.push(frame)
        self._cancel_ending()
        if self._turn_end is not None:
            self._turn_end.speech()

    def _keep_for_model(self, audio: AudioFrame) -> None:
        if self._turn_end is not None:
            self._turn_end.hear(audio)

    def _flush(self) -> None:
        """End the utterance in progress, if any, at the audio so far."""
        for event in self._endpointer.flush():
            if isinstance(event, SpeechEnd):
                self._close(event, behind=0.0)

    def _end_turn(self) -> None:
        """The semantic end of turn says the caller is done: the turn ends once the audio
        already here is heard. Audio held up on its way (a TCP segment sent again) comes
        at once, and the caller may have gone on past the pause the models judged: speech
        in it cancels the end."""
        if self._ending is None:
            self._ending = asyncio.get_running_loop().call_soon(self._end_turn_now)

    def _cancel_ending(self) -> None:
        """Drop an end of turn not taken yet (the caller speaks, or the utterance ended)."""
        if self._ending is not None:
            self._ending.cancel()
            self._ending = None

    def _end_turn_now(self) -> None:
        self._ending = None
        frame = self._last_frame
        if self._endpointer.in_speech and frame is not None and not self._live.manual:
            end = self._endpointer.end_now()
            self._close(end, behind=frame.timestamp + frame.duration - end.timestamp)

    def _close(self, end: SpeechEnd, behind: float) -> None:
        """End the utterance ``end``, which ended ``behind`` seconds of audio ago."""
        now = time.monotonic()
        self._cancel_ending()
        self._closed_at = end.timestamp
        utterance, self._utterance = self._utterance, None
        joined, self._joined = self._joined, None
        self._held.clear()
        if self._turn_end is not None:
            self._turn_end.close()
        self._events.put_nowait(SpeechEnded(end.timestamp, end.timestamp - end.start))
        if utterance is None:
            return
        timings = TurnTimings(speech_ended=now - behind, endpointed=now)
        if joined is not None:
            joined.timings = timings  # the turn's latency counts from its last words
            joined.ended.set()
            self._waiting.joined_grew()
        else:
            turn = Transcribing(utterance, timings)
            turn.ended.set()
            self._waiting.append(turn)
            self._events.put_nowait(turn)

    def _spoken_ms(self, utterance: Utterance) -> float:
        """How long the caller has spoken in ``utterance`` so far."""
        return (self._endpointer.last_speech_end - utterance.start) * 1000.0

    def _check_idle(self, frame: AudioFrame) -> None:
        active = self._endpointer.in_speech or self._floor() is not Floor.LISTENING
        if self._idle.idle_now(frame.timestamp + frame.duration, active=active):
            self._events.put_nowait(SessionIdle(self._idle.limit_s))

    async def _relay_partials(self, utterance: Utterance, stream: STTStream) -> None:
        async for partial in stream.partials():
            if utterance is not self._utterance or utterance.stream is not stream:
                break  # the utterance ended (its final transcript follows) or has a new stream
            if partial.text.strip():  # nothing heard (noise, silence) is no partial
                self._events.put_nowait(PartialHeard(partial))
            if self._turn_end is not None and partial.audio_duration + 1e-6 >= stream.duration:
                self._turn_end.transcript(partial.text)
            self._over_answer.on_partial(utterance, partial.text, self._spoken_ms(utterance))

    async def _transcribe(
        self, item: Transcribing
    ) -> UtteranceHeard | UtteranceIgnored | UtteranceLost | None:
        utterance = item.utterance
        try:
            transcript = await utterance.stream.finish()
        except Exception:
            logger.exception("transcribing an utterance failed")
            return UtteranceLost()
        item.timings.transcribed = time.monotonic()
        if not transcript.text.strip():
            logger.debug("the utterance of %.2f s had no words", transcript.audio_duration)
            return None
        if (ignored := self._over_answer.on_final(utterance, transcript)) is not None:
            return UtteranceIgnored(transcript, ignored)
        self._turn_from = max(self._turn_from, utterance.start)
        return UtteranceHeard(transcript, item.timings)

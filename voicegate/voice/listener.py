"""Listens to one caller: endpointing, the streamed transcription and the barge-in decision."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from voicegate.audio.endpoint import Endpointer, SpeechEnd, SpeechStart
from voicegate.audio.frame import AudioFrame
from voicegate.stt.base import STTProvider, STTStream, Transcript
from voicegate.voice.live_settings import LiveSettings
from voicegate.voice.notices import SpeechEnded, SpeechStarted
from voicegate.voice.session import VoiceSettings
from voicegate.voice.turns import TurnTimings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartialHeard:
    """A transcript of the utterance so far; it may still change."""

    transcript: Transcript


@dataclass(frozen=True, slots=True)
class UtteranceHeard:
    """An utterance ended and was transcribed (never empty); ``timings`` is marked up to
    ``transcribed``."""

    transcript: Transcript
    timings: TurnTimings


@dataclass(frozen=True, slots=True)
class UtteranceLost:
    """An utterance ended but the recogniser failed on it (the error is logged)."""


@dataclass(frozen=True, slots=True)
class SessionIdle:
    """Neither the caller nor an answer has made a sound for ``seconds``."""

    seconds: float


ListenerEvent = (
    SpeechStarted | PartialHeard | SpeechEnded | UtteranceHeard | UtteranceLost | SessionIdle
)

MAX_WAITING_UTTERANCES = 8
"""A caller's utterances that may wait for the recogniser as turns of their own; a later
one joins the latest of them (see :class:`Listener`)."""
MAX_JOINED_AUDIO_S = 60.0
"""Once the latest waiting turn holds this much audio, the caller's audio is held back
(:attr:`Listener.has_room`) until the recogniser takes the oldest waiting turn."""
JOIN_GAP_S = 0.5
"""The silence put between utterances joined into one turn."""


@dataclass(slots=True)
class _Transcribing:
    """A turn whose final transcript :meth:`Listener.events` awaits in turn: one utterance,
    or several joined; ``ended`` is clear while an utterance is still being added."""

    stream: STTStream
    timings: TurnTimings
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class _EndOfAudio:
    """The caller's audio ended: :meth:`Listener.events` stops after what came before."""


class Listener:
    """Turns one session's 16 kHz frames into utterance events.

    :meth:`on_frame` runs the endpointer and streams the speech (not the silence that may
    end it) to the recogniser; the first quiet frame starts a pass, so the final
    transcript is often ready when the utterance ends. :meth:`events` yields every event
    in order: an utterance's :class:`UtteranceHeard` (or :class:`UtteranceLost`) comes
    before anything of the next one. The barge-in decision does not wait for that
    order: ``on_speech_start`` is called at once with each :class:`SpeechStarted` (which
    :meth:`events` also yields, in order), and ``on_barge_in`` when the caller has spoken
    ``barge_in_ms`` while ``speaking()`` (an answer is being spoken), once per utterance.
    When neither the caller speaks nor an answer is spoken for ``idle_timeout_ms`` of the
    caller's audio (silence fed in for a stalled client counts), :class:`SessionIdle`
    follows, once.

    No utterance is ever dropped. At most ``MAX_WAITING_UTTERANCES`` ended utterances wait
    for the recogniser as turns of their own; the next one joins the latest of them (after
    ``JOIN_GAP_S`` of silence: one transcript, one turn). Once that turn holds
    ``MAX_JOINED_AUDIO_S`` of audio, :attr:`has_room` holds the caller's audio back
    until the recogniser takes the oldest waiting turn, so a session's memory stays bounded
    whatever the recogniser's delay. :meth:`end_of_audio` ends the utterance in progress
    and lets :meth:`events` finish the waiting turns, then stop.
    """

    def __init__(
        self,
        stt: STTProvider,
        settings: VoiceSettings,
        *,
        speaking: Callable[[], bool],
        on_speech_start: Callable[[SpeechStarted], None],
        on_barge_in: Callable[[], None],
    ) -> None:
        self._stt = stt
        self._settings = settings
        self._speaking = speaking
        self._on_speech_start = on_speech_start
        self._on_barge_in = on_barge_in
        self._endpointer = Endpointer(
            start_ms=settings.speech_start_ms,
            hangover_ms=settings.end_of_speech_ms,
            preroll_ms=settings.preroll_ms,
            max_utterance_ms=settings.max_utterance_ms,
        )
        self._live = LiveSettings(settings.end_of_speech_ms, settings.barge_in_ms)
        self._stream: STTStream | None = None
        self._held: list[AudioFrame] = []  # quiet frames inside the utterance
        self._speech_start = 0.0
        self._barged_in = False
        self._waiting: deque[_Transcribing] = deque()  # turns the recogniser has not taken
        self._joined: _Transcribing | None = None  # the waiting turn the utterance joined
        self._room = asyncio.Event()  # set while the caller's audio is taken
        self._room.set()
        self._active_at = 0.0  # stream time of the latest speech or answer
        self._idle = False
        self._events: asyncio.Queue[ListenerEvent | _Transcribing | _EndOfAudio]
        self._events = asyncio.Queue()
        self._relays: set[asyncio.Task[None]] = set()

    def on_frame(self, frame: AudioFrame, speech: bool, dbfs: float) -> None:
        """Take the next frame of the caller's audio with its speech decision and level."""
        was_open = self._endpointer.in_speech
        for event in self._endpointer.push(frame, speech, dbfs):
            if isinstance(event, SpeechStart):
                self._open(event)
            else:
                self._close(event, behind=frame.timestamp + frame.duration - event.timestamp)
        if was_open and self._endpointer.in_speech:
            self._feed(frame, speech)
        if self._endpointer.in_speech and speech:  # the silence ending an utterance is no speech
            self._check_barge_in(frame)
        self._check_idle(frame)

    async def events(self) -> AsyncIterator[ListenerEvent]:
        """The utterance events, in order, as they happen; they end after
        :meth:`end_of_audio` once every turn before it is transcribed."""
        while True:
            item = await self._events.get()
            if isinstance(item, _EndOfAudio):
                return
            if not isinstance(item, _Transcribing):
                yield item
                continue
            while not item.ended.is_set():  # an utterance joining it is under way
                await item.ended.wait()  # (and another may join before this wakes up)
            self._waiting.popleft()  # no await since the check: nothing joins it now
            self._update_room()
            heard = await self._transcribe(item)
            if heard is not None:
                yield heard

    @property
    def live(self) -> LiveSettings:
        """The settings the client may change, as they are now."""
        return self._live

    def update(self, live: LiveSettings) -> None:
        """Take the client's settings from now on (an utterance in progress too)."""
        self._live = live
        self._endpointer.hangover_s = math.inf if live.manual else live.end_of_speech_ms / 1000

    def commit(self) -> None:
        """The client ends the caller's turn (push-to-talk): the utterance in progress ends
        here; without one, nothing happens."""
        for event in self._endpointer.flush():
            if isinstance(event, SpeechEnd):
                self._close(event, behind=0.0)

    @property
    def has_room(self) -> bool:
        """Whether the caller's audio may be taken now: False while the recogniser is so far
        behind that the waiting turns are full."""
        return self._room.is_set()

    async def room_for_audio(self) -> None:
        """Return once :attr:`has_room`."""
        await self._room.wait()

    def end_of_audio(self) -> None:
        """The caller's audio ended: the utterance in progress ends here, and
        :meth:`events` ends once every waiting turn is transcribed."""
        for event in self._endpointer.flush():
            if isinstance(event, SpeechEnd):
                self._close(event, behind=0.0)
        self._events.put_nowait(_EndOfAudio())

    def close(self) -> None:
        """Stop listening: the utterance in progress is dropped."""
        if self._stream is not None:
            self._stream.cancel()
        for relay in self._relays:
            relay.cancel()

    def _open(self, start: SpeechStart) -> None:
        self._speech_start = start.timestamp
        self._barged_in = False
        started = SpeechStarted(start.timestamp)
        self._on_speech_start(started)
        self._events.put_nowait(started)
        if len(self._waiting) >= MAX_WAITING_UTTERANCES:
            self._joined = joined = self._waiting[-1]
            joined.ended.clear()
            stream = joined.stream
            gap = round(JOIN_GAP_S * start.speech.sample_rate)
            stream.push(AudioFrame(np.zeros(gap, np.int16), start.speech.sample_rate))
            logger.info(
                "%d turns wait for the recogniser: this utterance joins the latest (%.1f s)",
                len(self._waiting),
                stream.duration,
            )
        else:
            stream = self._stt.stream(
                self._settings.partial_interval_ms / 1000.0, self._settings.stt_language
            )
            relay = asyncio.create_task(self._relay_partials(stream))
            self._relays.add(relay)
            relay.add_done_callback(self._relays.discard)
        self._stream = stream
        if start.preroll.num_samples:
            stream.push(start.preroll)
        stream.push(start.speech)

    def _feed(self, frame: AudioFrame, speech: bool) -> None:
        """Give the stream speech only: quiet frames wait until speech follows them, and the
        first one asks for a pass over the speech so far."""
        if self._stream is None:
            return
        if not speech:
            if not self._held:
                self._stream.settle()
            self._held.append(frame)
            return
        for held in self._held:
            self._stream.push(held)
        self._held.clear()
        self._stream.push(frame)

    def _close(self, end: SpeechEnd, behind: float) -> None:
        """End the utterance ``end``, which ended ``behind`` seconds of audio ago."""
        now = time.monotonic()
        stream, self._stream = self._stream, None
        joined, self._joined = self._joined, None
        self._held.clear()
        self._events.put_nowait(SpeechEnded(end.timestamp, end.timestamp - end.start))
        if stream is None:
            return
        timings = TurnTimings(speech_ended=now - behind, endpointed=now)
        if joined is not None:
            joined.timings = timings  # the turn's latency counts from its last words
            joined.ended.set()
        else:
            turn = _Transcribing(stream, timings)
            turn.ended.set()
            self._waiting.append(turn)
            self._events.put_nowait(turn)
        self._update_room()

    def _update_room(self) -> None:
        """Hold the caller's audio back while the waiting turns are full."""
        full = (
            len(self._waiting) >= MAX_WAITING_UTTERANCES
            and self._waiting[-1].stream.duration >= MAX_JOINED_AUDIO_S
        )
        if full and self._room.is_set():
            logger.warning(
                "the recogniser is %d turns behind: holding the caller's audio back",
                len(self._waiting),
            )
            self._room.clear()
        elif not full:
            self._room.set()

    def _check_barge_in(self, frame: AudioFrame) -> None:
        spoken_ms = (frame.timestamp + frame.duration - self._speech_start) * 1000.0
        live = self._live
        if (
            live.interruptions
            and not self._barged_in
            and spoken_ms >= live.barge_in_ms
            and self._speaking()
        ):
            self._barged_in = True
            self._on_barge_in()

    def _check_idle(self, frame: AudioFrame) -> None:
        now = frame.timestamp + frame.duration
        if self._endpointer.in_speech or self._speaking():
            self._active_at = now
            return
        limit = self._settings.idle_timeout_ms / 1000.0
        if limit and not self._idle and now - self._active_at >= limit:
            self._idle = True
            self._events.put_nowait(SessionIdle(limit))

    async def _relay_partials(self, stream: STTStream) -> None:
        async for partial in stream.partials():
            if stream is not self._stream:
                break  # the utterance ended: its final transcript follows instead
            if partial.text.strip():  # nothing heard (noise, silence) is no partial
                self._events.put_nowait(PartialHeard(partial))

    async def _transcribe(self, utterance: _Transcribing) -> UtteranceHeard | UtteranceLost | None:
        try:
            transcript = await utterance.stream.finish()
        except Exception:
            logger.exception("transcribing an utterance failed")
            return UtteranceLost()
        utterance.timings.transcribed = time.monotonic()
        if not transcript.text.strip():
            return None
        return UtteranceHeard(transcript, utterance.timings)

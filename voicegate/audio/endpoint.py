"""Endpointing: per-frame speech decisions in, utterance start and end events out."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from voicegate.audio.frame import SILENCE_DBFS, AudioFrame

PREROLL_MS = 150
"""The audio kept from before the VAD found speech, which the recogniser hears before it: with
150 ms tiny.en made fewer errors on real speech than with 200 or 100 (the README's "The
pre-roll Whisper hears")."""


@dataclass(frozen=True, slots=True)
class SpeechStart:
    """Speech began at ``timestamp`` (stream seconds).

    ``preroll`` is the audio just before it and ``speech`` the speech that opened the
    utterance (``start_ms`` of it): together, the utterance so far.
    """

    timestamp: float
    preroll: AudioFrame
    speech: AudioFrame


@dataclass(frozen=True, slots=True)
class SpeechEnd:
    """An utterance from ``start`` to ``timestamp`` (stream seconds).

    ``utterance`` holds the pre-roll and the speech up to the end of the last speech frame;
    ``forced`` is true when the maximum utterance length cut it.
    """

    start: float
    timestamp: float
    utterance: AudioFrame
    forced: bool = False


EndpointEvent = SpeechStart | SpeechEnd


def _join(frames: list[AudioFrame]) -> AudioFrame:
    samples = np.concatenate([frame.samples for frame in frames])
    return AudioFrame(samples, frames[0].sample_rate, frames[0].timestamp)


class Endpointer:
    """Turns one stream's ``(frame, is_speech)`` sequence into speech events.

    Speech starts after ``start_ms`` of consecutive speech frames (the event is timed at the
    first of them) and ends after ``hangover_ms`` of non-speech (timed at the end of the last
    speech frame), or is cut once it lasts ``max_utterance_ms``. Speech frames more than
    ``end_trim_db`` below the loudest frame so far do not extend the utterance: WebRTC VAD
    keeps flagging about 100 ms of silence after speech ends. Within the utterance, a speech
    frame within ``sound_db`` of the loudest is a *sound* (:attr:`sounding`,
    :attr:`last_sound_end`): the murmur of a final "d", 30-42 dB down, is one; further down
    it is the VAD's tail, and a pause has begun.
    """

    def __init__(
        self,
        start_ms: float = 60.0,
        hangover_ms: float = 300.0,
        preroll_ms: float = PREROLL_MS,
        max_utterance_ms: float = 20_000.0,
        end_trim_db: float = 30.0,
        sound_db: float = 45.0,
    ) -> None:
        if min(start_ms, hangover_ms, preroll_ms) < 0 or max_utterance_ms <= 0:
            raise ValueError("endpointer durations must be non-negative (max_utterance_ms > 0)")
        self.start_s = start_ms / 1000.0
        self.hangover_s = hangover_ms / 1000.0
        self.preroll_s = preroll_ms / 1000.0
        self.max_utterance_s = max_utterance_ms / 1000.0
        self.end_trim_db = end_trim_db
        self.sound_db = sound_db
        self._history: deque[AudioFrame] = deque()
        self._run: list[AudioFrame] = []
        self._utterance: list[AudioFrame] = []
        self._start = 0.0
        self._last_speech_end = 0.0
        self._last_sound_end = 0.0
        self._peak_dbfs = SILENCE_DBFS

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is open."""
        return bool(self._utterance)

    @property
    def last_speech_end(self) -> float:
        """Where the open utterance's speech last ended (stream seconds)."""
        return self._last_speech_end

    @property
    def last_sound_end(self) -> float:
        """Where the open utterance's last sound ended (stream seconds)."""
        return self._last_sound_end

    @property
    def sounding(self) -> bool:
        """Whether the last frame pushed into the open utterance was a sound."""
        return bool(self._utterance) and (
            self._last_sound_end >= self._end_of(self._utterance[-1]) - 1e-9
        )

    @property
    def peak_dbfs(self) -> float:
        """The level of the open utterance's loudest speech frame (dBFS)."""
        return self._peak_dbfs

    def end_now(self) -> SpeechEnd:
        """Close the open utterance at its last speech, without waiting for ``hangover_ms``
        (someone else decided the speaker is done)."""
        if not self._utterance:
            raise RuntimeError("end_now() without an open utterance")
        return self._close(forced=False)

    def push(
        self, frame: AudioFrame, is_speech: bool, dbfs: float | None = None
    ) -> list[EndpointEvent]:
        """Feed the next frame of the stream and its speech decision (and its level, when the
        caller already measured it)."""
        if self._utterance:
            return self._continue(frame, is_speech, frame.dbfs() if dbfs is None else dbfs)
        if not is_speech:
            self._remember([*self._run, frame])
            self._run = []
            return []
        self._run.append(frame)
        if self._end_of(frame) - self._run[0].timestamp + 1e-9 < self.start_s:
            return []
        return [self._open()]

    def rewind(self, since: float) -> None:
        """Forget the frames from ``since`` (stream seconds) on, to be pushed again as they
        really were (a sound the echo canceller cut, given back); only between utterances."""
        if self._utterance:
            raise RuntimeError("rewind() inside an utterance")
        self._history = deque(f for f in self._history if f.timestamp < since - 1e-9)
        self._run = [f for f in self._run if f.timestamp < since - 1e-9]

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close an open utterance."""
        events: list[EndpointEvent] = [self._close(forced=False)] if self._utterance else []
        self._history.clear()
        self._run = []
        return events

    @staticmethod
    def _end_of(frame: AudioFrame) -> float:
        return frame.timestamp + frame.duration

    def _remember(self, frames: list[AudioFrame]) -> None:
        self._history.extend(frames)
        while self._history and (
            self._end_of(self._history[-1]) - self._history[0].timestamp - self._history[0].duration
            >= self.preroll_s
        ):
            self._history.popleft()

    def _open(self) -> SpeechStart:
        self._start = self._run[0].timestamp
        preroll = self._preroll()
        self._utterance = ([preroll] if preroll.num_samples else []) + self._run
        self._peak_dbfs = max(frame.dbfs() for frame in self._run)
        self._last_speech_end = self._last_sound_end = self._end_of(self._run[-1])
        self._history.clear()
        speech = _join(self._run)
        self._run = []
        return SpeechStart(self._start, preroll, speech)

    def _preroll(self) -> AudioFrame:
        rate = self._run[0].sample_rate
        channels = self._run[0].channels
        if not self._history:
            return AudioFrame(np.zeros((0, channels), np.int16), rate, self._start)
        joined = _join(list(self._history))
        keep = min(joined.num_samples, round(self.preroll_s * rate))
        return AudioFrame(
            joined.samples[joined.num_samples - keep :], rate, self._start - keep / rate
        )

    def _continue(self, frame: AudioFrame, is_speech: bool, level: float) -> list[EndpointEvent]:
        self._utterance.append(frame)
        if is_speech:
            self._peak_dbfs = max(self._peak_dbfs, level)
            if level >= self._peak_dbfs - self.end_trim_db:
                self._last_speech_end = self._end_of(frame)
            if level >= self._peak_dbfs - self.sound_db:
                self._last_sound_end = self._end_of(frame)
        if self._end_of(frame) - self._start + 1e-9 >= self.max_utterance_s:
            self._last_speech_end = self._end_of(frame)
            return [self._close(forced=True)]
        if self._end_of(frame) - self._last_speech_end + 1e-9 >= self.hangover_s:
            return [self._close(forced=False)]
        return []

    def _close(self, forced: bool) -> SpeechEnd:
        whole = _join(self._utterance)
        keep = round((self._last_speech_end - whole.timestamp) * whole.sample_rate)
        utterance = AudioFrame(whole.samples[:keep], whole.sample_rate, whole.timestamp)
        trailing = [f for f in self._utterance if f.timestamp >= self._last_speech_end - 1e-9]
        self._utterance = []
        self._remember(trailing)
        return SpeechEnd(self._start, self._last_speech_end, utterance, forced)

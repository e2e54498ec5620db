"""Every session's inbound audio through batched audio paths, one per input format.

A session's audio is cut into 20 ms frames as it arrives, whatever the size of the
frames it comes in: each 20 ms unit keeps its place on the session's clock. Frames that
arrive in the same event-loop iteration are processed together, in one batched pass per input
format (rate and channel count), so a lone session is processed the moment its audio
arrives and a busy server batches more. No session waits for another: each keeps
its own resampler history and clock. A session whose audio stops (its ``stall_ms`` after
the real time its audio so far covers: a client sending 1 s frames in real time is not
stalled between them) is fed silence in real time, as a muted microphone would be, so
its utterance ends even when the client stops sending; time the server's own loop was
held up (audio that came meanwhile is not read yet) is not the client's stall. How long
a stall is depends on what carries the audio: a gap in datagrams (RTP) is audio the
sender chose not to send (:data:`STALL_MS`), a gap in a TCP stream is audio still in
flight behind a lost segment (:data:`STREAM_STALL_MS`), and silence fed for it would
cut the caller's sentence in two. A client may not run ahead of real time by more than
``burst_ms``: what it sends beyond that is dropped, logged and reported to the session's
``on_refused`` once per episode, so nobody can make the server transcribe faster than
people speak. While the server itself holds a
session's audio back (:meth:`InboundMixer.hold`), neither rule applies to the time held.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from voicegate.audio.batch import BatchInboundPath, CaptureFilter
from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.audio.vad import VADProvider

logger = logging.getLogger(__name__)

FrameHandler = Callable[[AudioFrame, bool, float], None]
"""Receives one 16 kHz mono frame of a session, its speech decision and its level (dBFS)."""
RefusalHandler = Callable[[float], None]
"""Told, once per episode, that a session's audio ran more than this many seconds ahead of
real time and is being dropped."""

Samples = npt.NDArray[np.int16]


def _loop_time() -> float:
    return asyncio.get_running_loop().time()


@dataclass(slots=True)
class _Format:
    """The batched path of one input format and its sessions that have a whole frame waiting."""

    path: BatchInboundPath
    pending: dict[str, _Session] = field(default_factory=dict)


@dataclass(slots=True)
class _Session:
    handler: FrameHandler
    on_refused: RefusalHandler | None
    format: _Format
    stall_s: float
    started: float
    covered_until: float  # the real time the audio received so far covers
    received: float = 0.0  # seconds of audio accepted
    dropping: bool = False
    frames: deque[Samples] = field(default_factory=deque)
    carry: Samples | None = None  # a partial frame waiting for the rest
    stream_time: float = 0.0
    silence_until: float = 0.0
    stalled_at: float | None = None  # when silence was first fed in the stall under way
    held_since: float | None = None  # the session's audio is held back (see InboundMixer.hold)

    def add(self, samples: Samples) -> None:
        if self.carry is not None:
            samples = np.concatenate([self.carry, samples])
            self.carry = None
        size = self.format.path.frame_samples
        whole = len(samples) - len(samples) % size
        for start in range(0, whole, size):
            self.frames.append(samples[start : start + size])
        if whole < len(samples):
            self.carry = samples[whole:]


STALL_MS = 200
"""A session whose audio comes in datagrams (RTP, WebRTC) and stops for this long is fed
silence: a phone that sends nothing while its caller is quiet (discontinuous transmission)
has its turn ended as soon after as if it had sent the silence."""
STREAM_STALL_MS = 1000
"""A session whose audio comes over TCP (WebSocket) and stops for this long is fed silence.
A lost segment holds everything behind it until it is sent again: 200 ms at least on Linux,
twice that for a second loss, and the audio then comes at once. Silence fed for it puts a
pause into the sentence, which the end of turn takes for the caller's: with 200 ms, "The
quick brown fox jumps over the lazy dog." held up 0.6 s after "brown" was two or three
turns in 3 runs of 3 (``tests/voice/test_held_up_caller.py``). A client that stops sending
for good ends its turn this much later, unless it sends ``commit``."""
BURST_MS = 2500
"""How far a client may run ahead of real time (by default): more than the largest frame
the protocol accepts (32768 bytes: 2.05 s at 8 kHz), so no frame is refused for its size."""
RESUME_SLACK_S = 0.2
"""After running ahead of real time, a client's audio is taken again once it is this far inside
the burst allowance: a client that then paces in real time is not left on the edge, where a
loop that reads two frames at once would drop one (a word lost after a burst)."""


class InboundMixer:
    """Runs the inbound audio path (downmix, resample to 16 kHz, capture filter, level, VAD)
    for all sessions.

    ``clock`` (seconds, the event loop's clock by default) times the real-time checks;
    a test that feeds audio faster than real time gives it a clock it advances itself.
    """

    out_rate = 16000

    def __init__(
        self,
        vad: VADProvider,
        frame_ms: int = FRAME_MS,
        burst_ms: int = BURST_MS,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._vad = vad
        self._clock = clock if clock is not None else _loop_time
        self._burst_s = burst_ms / 1000.0
        self._frame_s = frame_ms / 1000.0
        self._frame_ms = frame_ms
        self._formats: dict[tuple[int, int], _Format] = {}
        self._sessions: dict[str, _Session] = {}
        self._pass_scheduled = False
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def vad(self) -> VADProvider:
        """The detector of sessions that are given none of their own."""
        return self._vad

    def add_session(
        self,
        session_id: str,
        in_rate: int,
        channels: int,
        handler: FrameHandler,
        *,
        vad: VADProvider | None = None,
        capture: CaptureFilter | None = None,
        on_refused: RefusalHandler | None = None,
        stall_ms: int = STALL_MS,
    ) -> None:
        """Start processing ``session_id``'s audio, which arrives at ``in_rate`` x ``channels``,
        with ``vad`` (else the mixer's) and a ``capture`` filter (echo cancellation) if any;
        ``on_refused`` hears of audio dropped for running ahead of real time, and silence
        is fed once its audio stops for ``stall_ms``."""
        key = (in_rate, channels)
        fmt = self._formats.get(key)
        if fmt is None:
            path = BatchInboundPath(self._vad, in_rate, self.out_rate, channels, self._frame_ms)
            fmt = self._formats[key] = _Format(path)
        fmt.path.add_session(session_id, vad=vad, capture=capture)
        now = self._clock()
        self._sessions[session_id] = _Session(handler, on_refused, fmt, stall_ms / 1000, now, now)
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.create_task(self._feed_stalled(), name="voicegate-inbound")

    def remove_session(self, session_id: str) -> None:
        """Stop processing ``session_id``; its buffered audio is discarded."""
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.format.path.remove_session(session_id)
            session.format.pending.pop(session_id, None)

    def hold(self, session_id: str) -> None:
        """The session's audio is held back by the server (its recogniser is far behind):
        no silence is fed in meanwhile, and the time held is added to what the client may
        send at once when :meth:`release` lets it go on."""
        session = self._sessions.get(session_id)
        if session is not None and session.held_since is None:
            session.held_since = self._clock()

    def release(self, session_id: str) -> None:
        """Take the session's audio again after :meth:`hold`."""
        session = self._sessions.get(session_id)
        if session is not None and session.held_since is not None:
            now = self._clock()
            session.started -= now - session.held_since
            session.held_since = None
            session.covered_until = max(session.covered_until, now)

    def finish(self, session_id: str) -> None:
        """Run the audio the session has buffered through the path now (its input ended)."""
        session = self._sessions.get(session_id)
        if session is not None and session.frames:
            ready = [(session_id, session)]
            while session.frames:
                self._pass(session.format.path, ready)
            session.format.pending.pop(session_id, None)

    def push(self, session_id: str, frame: AudioFrame) -> None:
        """Buffer a session's audio; it is processed at the end of this loop iteration."""
        session = self._sessions.get(session_id)
        if session is None:
            return
        path = session.format.path
        if (frame.sample_rate, frame.channels) != (path.in_rate, path.in_channels):
            rate, channels = path.in_rate, path.in_channels
            raise ValueError(
                f"session {session_id} sends {rate} Hz x {channels}, "
                f"got a frame of {frame.sample_rate} Hz x {frame.channels}"
            )
        now = self._clock()
        session.covered_until = max(session.covered_until, now)  # the client is there
        # half a sample of slack: summed float durations of 50 x 20 ms overshoot 1 s
        allowed = now - session.started + self._burst_s + 0.5 / frame.sample_rate
        if session.dropping:  # resume with room to spare, not on the edge
            allowed -= RESUME_SLACK_S
        if session.received + frame.duration > allowed:
            if not session.dropping:
                logger.warning(
                    "session %s sends audio faster than real time: dropping what runs more "
                    "than %.1f s ahead",
                    session_id,
                    self._burst_s,
                )
                if session.on_refused is not None:
                    session.on_refused(self._burst_s)
            session.dropping = True
            return
        session.dropping = False
        if session.stalled_at is not None:
            logger.debug(
                "session %s: audio again after a stall: %.0f ms of silence fed in its place",
                session_id,
                (session.silence_until - session.stalled_at) * 1000.0,
            )
            session.stalled_at = None
        session.covered_until += frame.duration
        session.received += frame.duration
        self._buffer(session_id, session, frame.samples)

    def _buffer(self, session_id: str, session: _Session, samples: Samples) -> None:
        session.add(samples)
        if session.frames:
            session.format.pending[session_id] = session
            self._schedule_pass()

    async def close(self) -> None:
        """Stop feeding stalled sessions."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            await asyncio.gather(self._watchdog, return_exceptions=True)

    def _schedule_pass(self) -> None:
        if not self._pass_scheduled:
            self._pass_scheduled = True
            asyncio.get_running_loop().call_soon(self._run_passes)

    def _run_passes(self) -> None:
        self._pass_scheduled = False
        for fmt in self._formats.values():
            while fmt.pending:
                ready = list(fmt.pending.items())
                self._pass(fmt.path, ready)
                for session_id, session in ready:
                    if not session.frames:
                        del fmt.pending[session_id]

    def _pass(self, path: BatchInboundPath, ready: list[tuple[str, _Session]]) -> None:
        block = np.stack([session.frames.popleft() for _, session in ready])
        tick = path.process([sid for sid, _ in ready], block)
        for index, (session_id, session) in enumerate(ready):
            frame = AudioFrame(tick.samples[index], tick.sample_rate, session.stream_time)
            session.stream_time += self._frame_s
            try:
                session.handler(frame, bool(tick.speech[index]), float(tick.dbfs[index]))
            except Exception:
                logger.exception("inbound frame handler of session %s failed", session_id)

    async def _feed_stalled(self) -> None:
        due = self._clock() + self._frame_s
        while self._sessions:
            await asyncio.sleep(self._frame_s)
            now = self._clock()
            # a loop held up past this wake-up has not read what arrived meanwhile: without
            # this, a busy server fed silence into speech and cut an utterance in two
            held_up = max(0.0, now - due)
            due = now + self._frame_s
            for session_id, session in list(self._sessions.items()):
                if (
                    now - held_up - session.covered_until < session.stall_s
                    or session.frames
                    or session.held_since is not None
                ):
                    continue
                since = max(session.covered_until, session.silence_until)
                count = int((now - since) / self._frame_s)
                if count:
                    path = session.format.path
                    shape = (path.frame_samples * count, path.in_channels)
                    silence = np.zeros(shape, np.int16)
                    session.carry = None
                    if session.stalled_at is None:
                        session.stalled_at = since
                        logger.debug(
                            "session %s: no audio for %.0f ms: feeding silence",
                            session_id,
                            (now - session.covered_until) * 1000.0,
                        )
                    session.silence_until = since + count * self._frame_s
                    session.received += count * self._frame_s  # the stream's time goes on
                    self._buffer(session_id, session, silence)

"""Echo cancellation on the server: WebRTC's audio processing module, from ``livekit``.

A client with no echo canceller of its own (a WebSocket client, ``voicegate mic`` in full
duplex, a phone line) sends back what it plays: the answer's own voice, delayed and
quieter. :class:`EchoCanceller` removes it from one session's 16 kHz microphone stream
with AEC3, the canceller in Chrome, fed as WebRTC feeds it: a 10 ms block of what plays
(the render stream) before each 10 ms microphone block (the capture stream).
:meth:`EchoCanceller.played` is told each piece of the answer when the client starts
playing it, and counts it from the microphone block due then, block after block;
:meth:`EchoCanceller.process` hands AEC3 those blocks in step with the microphone's.
A server that falls behind processes the microphone's blocks in bursts: fed as they
come, the two streams would jump apart by the burst and AEC3 would lose the echo path
and let the echo through while it looks for it again. The echo arrives later than it
was played (the room, the uplink); AEC3 finds that delay itself, up to about 500 ms.
Where the microphone hears no echo at all (a headset), AEC3 would still suppress the
caller's voice while an answer plays, for seconds from each answer's start. So the
canceller's output is used only where there is an echo to cancel: once an
:class:`~voicegate.audio.echo_path.EchoPathDetector`, fed in the same step, has heard
the echo path (it starts without, and needs about 1.5 s of an answer), once the
:class:`~voicegate.audio.echo_match.EchoMatcher` has found the echo in what the
microphone picked up (the line echoes: from then on in this call), or while the matcher
does not know yet or finds the echo now (within 0.1 s). On a line never found to echo, a
sound the matcher judges not to be the echo (a headset caller; a judgement it makes once
0.75 s of the answer has played, or before the caller's first word where the microphone
stayed quiet while the answer played: AEC3 would cut that word's first 0.1 s) passes raw,
and so does everything while nothing played for 3 s; the canceller keeps adapting
throughout.
Where it cut the start of a caller's word that way, the recogniser can be given the
microphone's raw audio of the utterance, from the start of the sound cut
(:meth:`EchoCanceller.raw_since`, without noise suppression), kept in a
:class:`~voicegate.audio.raw_capture.RawCapture`. A sound cut before it could be told,
whole or to a fragment (a "wait" in an answer's first 0.75 s), is given back once the
matcher judges what the microphone picks up not to be the echo
(:meth:`EchoCanceller.cut_sound`).
AEC3 fills what it suppresses with comfort noise, about -62 dBFS in its first seconds,
which voice activity detectors take for speech: blocks it leaves under
:data:`COMFORT_NOISE_DBFS` are silenced. Optional noise suppression runs after it, in a
module of its own.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.audio.echo_match import SAMPLE_RATE, EchoMatcher
from voicegate.audio.echo_path import FLOOR_DB, EchoPathDetector, level_db
from voicegate.audio.frame import AudioFrame
from voicegate.audio.raw_capture import RawCapture
from voicegate.audio.resample import MonoConverter
from voicegate.errors import RoomKitError

BLOCK = SAMPLE_RATE // 100
"""AEC3 works on 10 ms blocks."""
COMFORT_NOISE_DBFS = -55.0
"""A cancelled block quieter than this is the canceller's comfort noise, not speech."""
CUT_DB = 10.0
"""A sound (louder than the comfort noise) that the canceller's output left this much
quieter was cut."""
_SILENT = np.zeros(BLOCK, np.int16)

logger = logging.getLogger(__name__)


class EchoCancellerUnavailableError(RoomKitError):
    """The ``livekit`` package, which carries WebRTC's audio processing module, is missing."""


def _rtc() -> Any:
    try:
        from livekit import rtc
    except ImportError:
        raise EchoCancellerUnavailableError(
            "echo cancellation needs the livekit package: pip install 'voicegate[voice]'"
        ) from None
    return rtc


class EchoCanceller:
    """One session's echo canceller (and noise suppressor), on 16 kHz mono frames."""

    def __init__(
        self,
        *,
        echo_cancellation: bool = True,
        noise_suppression: bool = False,
    ) -> None:
        self._rtc = _rtc()
        module = self._rtc.AudioProcessingModule
        self._canceller = module(echo_cancellation=True) if echo_cancellation else None
        self._suppressor = (
            module(noise_suppression=True, high_pass_filter=True) if noise_suppression else None
        )
        self.echo_path = EchoPathDetector()
        self.echo_match = EchoMatcher()
        self._raw = RawCapture(SAMPLE_RATE)
        self._carry = np.zeros(0, np.int16)
        self._render: deque[tuple[int, npt.NDArray[np.int16]]] = deque()  # (slot, block)
        self._captured = 0  # microphone blocks processed
        self._unjudged_cut: float | None = None  # where a sound cut while untold began (s)
        self._cancelling = False  # whether the canceller's output was used last block
        self._next_slot = 0  # where the next played block goes
        self._to_rate = MonoConverter(SAMPLE_RATE)

    def played(self, frame: AudioFrame) -> None:
        """The client starts playing ``frame`` (mono, any rate) now."""
        if self._canceller is None:
            return
        frame = self._to_rate.convert(frame)
        samples = np.concatenate([self._carry, frame.samples.reshape(-1)])
        whole = len(samples) - len(samples) % BLOCK
        self.echo_match.played(samples[:whole])
        for offset in range(0, whole, BLOCK):
            slot = max(self._captured, self._next_slot)
            self._render.append((slot, samples[offset : offset + BLOCK]))
            self._next_slot = slot + 1
        self._carry = samples[whole:]

    def is_echo(self) -> bool:
        """Whether the microphone's last 0.25 s is the played audio's echo (see
        :class:`~voicegate.audio.echo_match.EchoMatcher`), which the canceller may let
        through while it finds a new echo path."""
        return self._canceller is not None and self.echo_match.is_echo()

    def line_echoes(self) -> bool:
        """Whether the line is known to echo: the microphone's levels followed the played
        ones, or its sound matched the played audio, once in this call."""
        return self._canceller is not None and (self.echo_path.heard or self.echo_match.found)

    def raw_since(self, start: float, not_before: float | None = None) -> AudioFrame | None:
        """The microphone's raw audio from ``start`` (seconds of the microphone's audio) to
        now (or from further back: the start of a sound it cut while the matcher could not
        tell it from the echo, or of the sound it cut just before, see
        :meth:`~voicegate.audio.raw_capture.RawCapture.since`; never from before
        ``not_before``), where the canceller passes the raw sound now and its output was
        used since ``start``; None otherwise."""
        if self._canceller is None or self._echo_line():
            return None
        cut, self._unjudged_cut = self._unjudged_cut, None
        if cut is not None and cut < start:
            raw = self._raw.since(cut, not_before)
            if raw is not None:
                return raw
        return self._raw.since(start, not_before)

    def cut_sound(self) -> AudioFrame | None:
        """The microphone's raw audio from the start of a sound the canceller cut while the
        matcher could not tell it from the echo, to now, once it has judged the microphone's
        sound not to be the echo and the canceller's output is no longer used (once per
        sound, and not after :meth:`raw_since` gave it); None otherwise."""
        return None if self._unjudged_cut is None else self.raw_since(self._unjudged_cut)

    def process(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """One microphone frame (a whole number of 10 ms blocks) that arrived now, cleaned."""
        out = np.empty_like(samples)
        count = len(samples) // BLOCK
        for index in range(count):
            block = samples[index * BLOCK : (index + 1) * BLOCK]
            if self._canceller is not None:
                self._render_until(self._canceller, self._captured)
                self._captured += 1
                cancelled = self._run(self._canceller, block)
                loud = level_db(block)
                self.echo_path.picked_up(loud)
                self.echo_match.picked_up(block)
                raw, cancelling = block, self._echo_line()
                if cancelling is not self._cancelling:
                    self._cancelling = cancelling
                    self._log_use()
                if cancelling:
                    block, left = _without_comfort_noise(cancelled)
                else:
                    left = loud
                cut = loud >= COMFORT_NOISE_DBFS and left <= loud - CUT_DB
                self._raw.add(raw, cancelled=cancelling, cut=cut)
                self._note_cut(cut)
            if self._suppressor is not None:
                block = self._run(self._suppressor, block)
            out[index * BLOCK : (index + 1) * BLOCK] = block
        return out

    def _echo_line(self) -> bool:
        """Whether the canceller's output is used: the microphone hears what plays (its
        levels follow the played ones, or its sound matched the played audio once in this
        call), or what it picks up now is the echo or cannot be told yet."""
        return self.line_echoes() or self.echo_match.verdict is not False

    def _note_cut(self, cut: bool) -> None:
        """Remember where a sound cut while the matcher cannot tell it began; forget it
        once the echo is known (it was the echo, or the canceller is right to cut it)."""
        match = self.echo_match
        if self.echo_path.heard or match.found or match.verdict:
            self._unjudged_cut = None
        elif cut and match.verdict is None and self._unjudged_cut is None:
            self._unjudged_cut = (self._captured - 1) * BLOCK / SAMPLE_RATE

    def _log_use(self) -> None:
        """Log that the canceller's output is now used, or no longer, and why."""
        match = self.echo_match
        logger.debug(
            "at %.2f s the canceller's output is %s (echo path heard %s, echo found %s, "
            "echo now %s)",
            self._captured * BLOCK / SAMPLE_RATE,
            "used" if self._cancelling else "no longer used",
            self.echo_path.heard,
            match.found,
            match.verdict,
        )

    def _render_until(self, canceller: Any, slot: int) -> None:
        """Hand AEC3 the played blocks due by the microphone block ``slot``."""
        while self._render and self._render[0][0] <= slot:
            _, block = self._render.popleft()
            canceller.process_reverse_stream(self._frame(block))
            self.echo_path.played(level_db(block))

    def _run(self, module: Any, block: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        frame = self._frame(block)
        module.process_stream(frame)
        return np.frombuffer(frame.data, dtype=np.int16)

    def _frame(self, block: npt.NDArray[np.int16]) -> Any:
        return self._rtc.AudioFrame(block.tobytes(), SAMPLE_RATE, 1, BLOCK)


def _without_comfort_noise(
    cancelled: npt.NDArray[np.int16],
) -> tuple[npt.NDArray[np.int16], float]:
    """The canceller's output block, silent where it is only its comfort noise (under
    :data:`COMFORT_NOISE_DBFS`), and the level of what is left."""
    level = level_db(cancelled)
    return (cancelled, level) if level >= COMFORT_NOISE_DBFS else (_SILENT, FLOOR_DB)

"""Echo cancellation on the server: WebRTC's audio processing module, from ``livekit``.

A client with no echo canceller of its own (a WebSocket client, ``voicegate mic`` in full
duplex, a phone line) sends back what it plays: the answer's own voice, delayed and
quieter. :class:`EchoCanceller` removes it from one session's 16 kHz microphone stream
with AEC3, the canceller in Chrome, fed with exactly the audio the client plays, when it
plays it: :meth:`EchoCanceller.played` takes that audio at its playout time,
:meth:`EchoCanceller.process` cleans each microphone frame as it arrives and gives the
canceller, 10 ms for 10 ms, the reference audio that was due by then. The echo comes back
later than it was played (the acoustic path, the uplink), so the reference always leads
it; AEC3 finds that delay itself, up to about 500 ms. Where the microphone does not
hear the audio played at all (a headset), AEC3 would still suppress the caller's voice
while an answer plays: an :class:`~voicegate.audio.echo_path.EchoPathDetector` watches
for that, and while it hears no echo the canceller's output is not used (the canceller
keeps adapting). Optional noise suppression runs after it, in a module of its own.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.audio.echo_path import EchoPathDetector, level_db
from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import Resampler
from voicegate.errors import RoomKitError

SAMPLE_RATE = 16000
BLOCK = SAMPLE_RATE // 100
"""AEC3 works on 10 ms blocks."""
_SILENT_BLOCK = np.zeros(BLOCK, np.int16)
MAX_REFERENCE_AGE_S = 0.5
"""Reference audio older than this when a microphone frame arrives can no longer match its
echo (AEC3 covers about 500 ms): it is dropped, so a stalled microphone cannot leave the
reference behind."""


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
    """One session's echo canceller (and noise suppressor), on 16 kHz mono frames.

    ``clock`` (seconds) times playout and arrival; it must be the clock the inbound
    path runs on.
    """

    def __init__(
        self,
        *,
        echo_cancellation: bool = True,
        noise_suppression: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rtc = _rtc()
        module = self._rtc.AudioProcessingModule
        self._canceller = module(echo_cancellation=True) if echo_cancellation else None
        self._suppressor = (
            module(noise_suppression=True, high_pass_filter=True) if noise_suppression else None
        )
        self.echo_path = EchoPathDetector()
        self.echo_cancellation = echo_cancellation
        self._clock = clock
        self._reference: deque[tuple[float, npt.NDArray[np.int16]]] = deque()
        self._carry = np.zeros(0, np.int16)
        self._resamplers: dict[int, Resampler] = {}

    def played(self, frame: AudioFrame) -> None:
        """The client starts playing ``frame`` (mono, any rate) now."""
        if not self.echo_cancellation:
            return
        if frame.sample_rate != SAMPLE_RATE:
            resampler = self._resamplers.get(frame.sample_rate)
            if resampler is None:
                resampler = self._resamplers[frame.sample_rate] = Resampler(
                    frame.sample_rate, SAMPLE_RATE
                )
            frame = resampler.process(frame)
        samples = np.concatenate([self._carry, frame.samples.reshape(-1)])
        whole = len(samples) - len(samples) % BLOCK
        start = self._clock() - len(self._carry) / SAMPLE_RATE
        for offset in range(0, whole, BLOCK):
            self._reference.append((start + offset / SAMPLE_RATE, samples[offset : offset + BLOCK]))
        self._carry = samples[whole:]

    def process(self, samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        """One microphone frame (a whole number of 10 ms blocks) that arrived now, cleaned."""
        now = self._clock()
        while self._reference and self._reference[0][0] < now - MAX_REFERENCE_AGE_S:
            self._reference.popleft()
        out = np.empty_like(samples)
        for offset in range(0, len(samples), BLOCK):
            block = samples[offset : offset + BLOCK]
            if self._canceller is not None:
                due = self._reference and self._reference[0][0] <= now
                reference = self._reference.popleft()[1] if due else _SILENT_BLOCK
                self._canceller.process_reverse_stream(self._frame(reference))
                cancelled = self._run(self._canceller, block)
                self.echo_path.add(level_db(reference), level_db(block))
                if self.echo_path.heard:
                    block = cancelled
            if self._suppressor is not None:
                block = self._run(self._suppressor, block)
            out[offset : offset + BLOCK] = block
        return out

    def _run(self, module: Any, block: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
        frame = self._frame(block)
        module.process_stream(frame)
        return np.frombuffer(frame.data, dtype=np.int16)

    def _frame(self, block: npt.NDArray[np.int16]) -> Any:
        return self._rtc.AudioFrame(block.tobytes(), SAMPLE_RATE, 1, BLOCK)

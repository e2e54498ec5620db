"""A caller on the voice WebSocket that talks like a person on a speakerphone.

It sends 20 ms frames in real time: what it is given to say, else silence, plus its
background noise, plus (``echo_db``) the answer it is playing, ``echo_delay_ms`` later
and that much quieter, as a speakerphone without echo cancellation sends it back. Its
frames may be held back for a while and then sent at once
(:meth:`ConversationCaller.stall_uplink`): what a server that falls behind reads. It
plays the answer audio as it arrives, in real time, and drops what it has not played
when told ``barge_in``, as ``docs/protocol.md`` asks. Every message is recorded with its
arrival time (``time.monotonic()`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from voicegate.audio.frame import FRAME_MS, AudioFrame, to_int16
from voicegate.audio.resample import Resampler
from voicegate.bench.connection import Connection
from voicegate.bench.speech import SAMPLE_RATE
from voicegate.voice.admission import OVERLOADED, SERVER_BUSY
from voicegate.voice.protocol import CloseCode

BUSY_RETRY_S = 60.0
"""How long a caller refused with 1013 (the server busy) keeps trying again."""
BUSY_CODES = frozenset({SERVER_BUSY, OVERLOADED})
"""The errors before a 1013 close that say the server is busy, not the call wrong."""
FRAME = SAMPLE_RATE * FRAME_MS // 1000
LOUD_DB = -40.0
"""A sample within this of its utterance's peak is loud: speech, not its fade."""
Samples = npt.NDArray[np.int16]
Message = tuple[float, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Spoken:
    """When the frames holding an utterance's first and last loud samples were sent, and
    where the last one ends on the stream's own clock (``speech_end``'s ``at``)."""

    first_loud: float
    last_loud: float
    last_loud_at: float


class ConversationCaller(Connection):
    """One session on ``url`` with the session ``settings`` in its hello; ``async with``."""

    def __init__(
        self,
        url: str,
        settings: Mapping[str, object] | None = None,
        *,
        echo_db: float | None = None,
        echo_delay_ms: int = 80,
        noise: Samples | None = None,
    ) -> None:
        self.url = url
        self.settings = dict(settings or {})
        self.messages: list[Message] = []
        self.ready: dict[str, Any] = {}
        self._echo_gain = None if echo_db is None else 10 ** (echo_db / 20)
        self._echo_line: deque[Samples] = deque(
            [np.zeros(FRAME, np.int16)] * max(1, echo_delay_ms // FRAME_MS)
        )
        self._noise = noise
        self._noise_at = 0
        self._speech: deque[tuple[Samples, bool, bool]] = deque()  # frame, first, last loud
        self._spoken: dict[str, float] = {}
        self._sent = asyncio.Event()
        self._playout: deque[Samples] = deque()
        self._resampler: Resampler | None = None
        self._changed = asyncio.Event()
        self._connection: ClientConnection | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._uplink: deque[bytes] = deque()  # frames not sent yet
        self._stalled_until = 0.0

    async def open(self) -> None:
        """Say ``hello`` (again while the server is busy, up to :data:`BUSY_RETRY_S`), await
        ``ready``; start the microphone and the reader."""
        deadline = time.monotonic() + BUSY_RETRY_S
        while True:
            self._connection = connection = await connect(self.url, open_timeout=10)
            hello = {"type": "hello", "sample_rate": SAMPLE_RATE, **self.settings}
            await connection.send(json.dumps(hello))
            try:
                async with asyncio.timeout(10):
                    self.ready = json.loads(await connection.recv())
                # the server is busy: the error of its 1013 close comes first (docs/protocol.md)
                busy = self.ready.get("code") in BUSY_CODES and time.monotonic() < deadline
            except ConnectionClosed as closed:
                busy = closed.rcvd is not None and closed.rcvd.code == CloseCode.TRY_AGAIN_LATER
                if not busy or time.monotonic() >= deadline:
                    raise
            if not busy:
                break
            await connection.close()
            await asyncio.sleep(1.0)  # try again later, as the 1013 asks
        if self.ready.get("type") != "ready":
            await connection.close()
            raise ConnectionError(f"{self.url}: expected 'ready' after hello, got {self.ready}")
        output_rate = int(self.ready["output_sample_rate"])
        if output_rate != SAMPLE_RATE:
            self._resampler = Resampler(output_rate, SAMPLE_RATE)
        self._tasks = [
            asyncio.create_task(self._read(connection)),
            asyncio.create_task(self._microphone(connection)),
        ]

    async def close(self) -> None:
        """Stop the microphone, say ``bye`` and close."""
        if self._connection is None:
            return
        self._tasks[1].cancel()
        with contextlib.suppress(ConnectionClosed):
            await self._connection.send(json.dumps({"type": "bye"}))
        await self._connection.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def say(self, samples: Samples) -> Spoken:
        """Speak ``samples`` (16 kHz) from the next frame on; return once all were sent."""
        peak = float(np.abs(samples.astype(np.int32)).max())
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) >= peak * 10 ** (LOUD_DB / 20))
        padded = np.concatenate([samples, np.zeros(-len(samples) % FRAME, np.int16)])
        frames = padded.reshape(-1, FRAME)
        first, last = int(loud[0]) // FRAME, int(loud[-1]) // FRAME
        for index, frame in enumerate(frames):
            self._speech.append((frame, index == first, index == last))
        while self._speech:
            self._sent.clear()
            await self._sent.wait()
        return Spoken(self._spoken["first"], self._spoken["last"], self._spoken["last_at"])

    def stall_uplink(self, seconds: float) -> None:
        """Send nothing for ``seconds``, then every frame held back at once (as a server
        that fell behind reads them): the sound itself, echo included, goes on."""
        self._stalled_until = time.monotonic() + seconds

    async def pause(self, seconds: float) -> None:
        """Let ``seconds`` of the conversation pass."""
        await asyncio.sleep(seconds)

    def since(self, at: float) -> list[Message]:
        """The messages that arrived at or after ``at``."""
        return [(t, m) for t, m in self.messages if t >= at]

    async def wait_for(self, done: Callable[[list[Message]], bool], seconds: float) -> bool:
        """Wait until ``done(messages)`` holds, at most ``seconds``; whether it did."""
        try:
            async with asyncio.timeout(seconds):
                while not done(self.messages):
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            return False
        return True

    async def _microphone(self, connection: ClientConnection) -> None:
        start = time.monotonic()
        ticks = 0
        try:
            while True:
                frame = np.zeros(FRAME, np.float64)
                if self._speech:
                    speech, first, last = self._speech.popleft()
                    frame += speech
                    now = time.monotonic()
                    if first:
                        self._spoken["first"] = now
                    if last:
                        self._spoken["last"] = now
                        self._spoken["last_at"] = (ticks + 1) * FRAME_MS / 1000
                    self._sent.set()
                played = self._playout.popleft() if self._playout else np.zeros(FRAME, np.int16)
                self._echo_line.append(played)
                if self._echo_gain is not None:
                    frame += self._echo_line.popleft() * self._echo_gain
                else:
                    self._echo_line.popleft()
                if self._noise is not None:
                    at = self._noise_at % (len(self._noise) - FRAME)
                    frame += self._noise[at : at + FRAME]
                    self._noise_at += FRAME
                self._uplink.append(to_int16(frame).tobytes())
                if time.monotonic() >= self._stalled_until:
                    while self._uplink:
                        await connection.send(self._uplink.popleft())
                ticks += 1
                await asyncio.sleep(max(0.0, start + ticks * FRAME_MS / 1000 - time.monotonic()))
        except ConnectionClosed:
            pass

    async def _read(self, connection: ClientConnection) -> None:
        pending = np.zeros(0, np.int16)
        try:
            async for message in connection:
                at = time.monotonic()
                if isinstance(message, bytes):
                    self.messages.append((at, {"type": "audio", "bytes": len(message)}))
                    audio = AudioFrame.from_bytes(message, int(self.ready["output_sample_rate"]))
                    if self._resampler is not None:
                        audio = self._resampler.process(audio)
                    pending = np.concatenate([pending, audio.samples[:, 0]])
                    while len(pending) >= FRAME:
                        self._playout.append(pending[:FRAME])
                        pending = pending[FRAME:]
                else:
                    decoded = json.loads(message)
                    self.messages.append((at, decoded))
                    if decoded["type"] == "barge_in":
                        self._playout.clear()  # drop what was not played yet
                        pending = np.zeros(0, np.int16)
                self._changed.set()
        except ConnectionClosed:
            pass
        self._changed.set()

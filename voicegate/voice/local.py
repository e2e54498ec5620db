"""Voice from the local microphone and to the local speaker, with ``sounddevice`` (PortAudio).

One duplex audio stream carries one session. PortAudio calls back on its own thread
once per block: the callback only copies bytes. It takes the next block of answer
audio from a deque the event loop keeps topped up, and hands the microphone block to
the loop with ``call_soon_threadsafe``; everything else (the playout buffer, the
bounded inbound queue, half-duplex muting) runs on the loop. The devices are found,
checked and opened in :mod:`voicegate.voice.local_devices`.

The microphone stays open while an answer plays (full duplex): the session's echo
canceller gets every block the speaker plays, from the same callback that captured the
microphone block, so the two are in step. ``half_duplex=True`` mutes the microphone
while an answer plays instead (then only the client's ``interrupt`` stops an answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from voicegate.audio.frame import FRAME_MS, AudioFrame
from voicegate.voice.access import ROOMS_KEY
from voicegate.voice.auth import run_with_auth_context
from voicegate.voice.backend import SessionRequest, VoiceBackend
from voicegate.voice.local_devices import (
    AudioStream,
    SoundDeviceStreams,
    StreamConfig,
    StreamFactory,
)
from voicegate.voice.notices import Notice
from voicegate.voice.playout import PlayoutBuffer
from voicegate.voice.protocol import CloseCode
from voicegate.voice.transport import VoiceTransport

logger = logging.getLogger(__name__)

_LEAD_BLOCKS = 3
"""Answer blocks kept ready for PortAudio's callback; the rest waits in the playout buffer."""


@dataclass(frozen=True, slots=True)
class InputLevel:
    """The microphone's level for one block, in dBFS (for a level meter)."""

    dbfs: float


@dataclass(frozen=True, slots=True)
class SessionOpened:
    """The local session started in ``room_id``."""

    session_id: str
    room_id: str


@dataclass(frozen=True, slots=True)
class SessionClosed:
    """The local session ended (WebSocket close codes: 1000 is a normal end)."""

    code: int
    reason: str


LocalNotice = Notice | InputLevel | SessionOpened | SessionClosed
NoticeCallback = Callable[[LocalNotice], None]


class LocalTransport(VoiceTransport):
    """The local session's audio and notices; :meth:`callback` runs on PortAudio's thread."""

    kind = "local"

    def __init__(
        self,
        config: StreamConfig,
        loop: asyncio.AbstractEventLoop,
        *,
        half_duplex: bool,
        mute_tail_blocks: int,
        on_notice: NoticeCallback | None,
        max_queued_blocks: int,
    ) -> None:
        self._config = config
        self._loop = loop
        self._half_duplex = half_duplex
        self._mute_tail_blocks = mute_tail_blocks
        self._on_notice = on_notice
        self._silence = bytes(2 * config.block_samples)
        self._inbound: asyncio.Queue[AudioFrame | None] = asyncio.Queue(max_queued_blocks)
        self._playout = PlayoutBuffer(config.sample_rate)
        self._outbound: deque[bytes] = deque()  # appended on the loop, popped by PortAudio
        self._idle = asyncio.Event()
        self._idle.set()
        self._mute_left = 0  # blocks the microphone stays muted after the answer audio
        self._blocks = 0
        self.dropped_blocks = 0
        """Microphone blocks dropped because the session fell behind."""

    @property
    def input_rate(self) -> int:
        """The microphone's rate."""
        return self._config.sample_rate

    @property
    def input_channels(self) -> int:
        """Mono."""
        return 1

    @property
    def output_rate(self) -> int:
        """The speaker's rate (the same as the microphone's)."""
        return self._config.sample_rate

    def callback(self, indata: Any, outdata: Any, frames: int, when: Any, status: Any) -> None:
        """PortAudio's callback: play the next answer block, pass the microphone's on."""
        try:
            block = self._outbound.popleft()
            played = True
        except IndexError:
            block, played = self._silence, False
        size = len(outdata)
        outdata[:] = block[:size].ljust(size, b"\0")
        with contextlib.suppress(RuntimeError):  # a closed loop: the session is over
            self._loop.call_soon_threadsafe(
                self._on_block, bytes(indata), block if played else None
            )

    def _on_block(self, pcm: bytes, block: bytes | None) -> None:
        played = block is not None
        if block is not None and self.played_handler is not None:
            self.played_handler(AudioFrame.from_bytes(block, self._config.sample_rate))
        muted = self._half_duplex
        if played or self._outbound or self._playout.queued_samples:
            self._mute_left = self._mute_tail_blocks
        elif self._mute_left:
            self._mute_left -= 1
        else:
            muted = False
        samples = np.zeros(len(pcm) // 2, np.int16) if muted else np.frombuffer(pcm, "<i2")
        timestamp = self._blocks * self._config.block_samples / self._config.sample_rate
        self._blocks += 1
        frame = AudioFrame(samples, self._config.sample_rate, timestamp)
        if self._on_notice is not None:
            self._on_notice(InputLevel(frame.dbfs()))
        if self._inbound.full():
            self._inbound.get_nowait()
            self.dropped_blocks += 1
            if self.dropped_blocks % 50 == 1:
                logger.warning(
                    "local session is behind: %d mic blocks dropped", self.dropped_blocks
                )
        self._inbound.put_nowait(frame)
        self._top_up()

    def _top_up(self) -> None:
        while len(self._outbound) < _LEAD_BLOCKS:
            chunk = self._playout.pull(self._config.block_samples)
            if chunk is None:
                break
            self._outbound.append(chunk.tobytes())
        if not self._outbound and not self._playout.queued_samples:
            self._idle.set()

    async def opened(self, session_id: str, room_id: str) -> None:
        """Tell the notice callback where the session is."""
        self._emit(SessionOpened(session_id, room_id))

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """Microphone blocks until the transport is closed."""
        while (frame := await self._inbound.get()) is not None:
            yield frame

    async def play(self, frame: AudioFrame) -> None:
        """Queue answer audio for the speaker, once at most ``PLAY_AHEAD_S`` are queued."""
        await self._playout.wait_room()
        self._playout.push(frame.samples.reshape(-1))
        self._idle.clear()
        self._top_up()

    def flush(self) -> None:
        """Drop the queued answer audio: the speaker falls silent within a few blocks."""
        self._playout.flush()
        self._outbound.clear()
        self._idle.set()

    async def wait_played(self) -> None:
        """Return once all queued answer audio went to the speaker (or was flushed)."""
        await self._idle.wait()

    async def notify(self, notice: Notice) -> None:
        """Pass ``notice`` to the notice callback."""
        self._emit(notice)

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """End the microphone stream of this session."""
        self.flush()
        while self._inbound.full():
            self._inbound.get_nowait()
        self._inbound.put_nowait(None)
        self._emit(SessionClosed(code, reason))

    def _emit(self, notice: LocalNotice) -> None:
        if self._on_notice is not None:
            self._on_notice(notice)


class LocalVoiceBackend(VoiceBackend):
    """One voice session on this machine's microphone and speaker.

    :meth:`start` (called by the gateway) checks and opens the devices, raising
    :class:`~voicegate.voice.local_devices.AudioDeviceError` with the fix when PortAudio or
    a device is missing, and runs the session in the background until :meth:`close`.
    ``on_notice`` receives the session's notices and an :class:`InputLevel` per block (on
    the event loop). ``streams`` replaces ``sounddevice`` (tests).
    """

    name = "local"

    def __init__(
        self,
        input_device: int | str | None = None,
        output_device: int | str | None = None,
        sample_rate: int = 16000,
        half_duplex: bool = False,
        *,
        room_id: str | None = None,
        on_notice: NoticeCallback | None = None,
        block_ms: int = FRAME_MS,
        mute_tail_ms: int = 300,
        max_queued_ms: int = 1000,
        streams: StreamFactory | None = None,
    ) -> None:
        super().__init__()
        if sample_rate <= 0 or block_ms <= 0:
            raise ValueError("sample_rate and block_ms must be positive")
        block_samples = sample_rate * block_ms // 1000
        self._config = StreamConfig(sample_rate, block_samples, input_device, output_device)
        self._half_duplex = half_duplex
        self._room_id = room_id
        self._on_notice = on_notice
        self._mute_tail_blocks = mute_tail_ms // block_ms
        self._max_queued_blocks = max(1, max_queued_ms // block_ms)
        self._streams: StreamFactory = streams if streams is not None else SoundDeviceStreams()
        self._transport: LocalTransport | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def session_count(self) -> int:
        """1 while the local session runs, else 0."""
        return 0 if self._task is None or self._task.done() else 1

    def check(self) -> None:
        """Raise :class:`~voicegate.voice.local_devices.AudioDeviceError` if the devices
        cannot be opened."""
        self._streams.check(self._config)

    async def start(self) -> None:
        """Open the devices and start the session."""
        self.check()
        transport = LocalTransport(
            self._config,
            asyncio.get_running_loop(),
            half_duplex=self._half_duplex,
            mute_tail_blocks=self._mute_tail_blocks,
            on_notice=self._on_notice,
            max_queued_blocks=self._max_queued_blocks,
        )
        stream = self._streams.open(self._config, transport.callback)
        stream.start()
        self._transport = transport
        self._task = asyncio.create_task(self._run(transport, stream), name="local-voice")

    async def wait_closed(self) -> None:
        """Return when the session has ended."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """End the session and close the devices."""
        if self._transport is not None:
            await self._transport.close(CloseCode.GOING_AWAY, "closing")
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, transport: LocalTransport, stream: AudioStream) -> None:
        # the application chose the room: the local session may join it (voice/access.py)
        rooms = [] if self._room_id is None else [self._room_id]
        metadata = {"subject": "local", "transport": "local", ROOMS_KEY: rooms}
        request = SessionRequest(metadata, self._room_id, "local")
        try:
            await run_with_auth_context(
                metadata,
                self.session_handler.run_session,
                transport,
                request,
                self.session_handler.reserve(),
            )
        finally:
            stream.stop()
            stream.close()
            self._transport = None

"""The per-connection link a voice backend hands to the session logic."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import MappingProxyType

from voicegate.audio.frame import AudioFrame
from voicegate.voice.client_messages import ClientMessage
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.inbound import STALL_MS
from voicegate.voice.notices import Notice


class VoiceTransport(ABC):
    """One client's audio in, audio out and notices, whatever carries them.

    ``frames`` yields what the client sends, at any rate and channel count (the
    session downmixes and resamples); ``play`` takes mono audio at ``output_rate``,
    which the transport paces out in real time; ``flush`` drops what is queued.
    """

    kind: str
    """Short transport name for logs and metrics: ``websocket``, ``webrtc``, ``local``."""

    stall_ms: int = STALL_MS
    """How long the client's audio may stop before the session is fed silence in its place
    (:mod:`voicegate.voice.inbound`): :data:`STREAM_STALL_MS` for audio over TCP."""

    message_handler: Callable[[ClientMessage], Awaitable[None]] | None = None
    """Called with each message the client sends that the session acts on (``interrupt``,
    and version 2's ``played``...); the session sets it."""

    recording: bool = False
    """Whether the session is recorded (the gateway sets it before :meth:`opened`)."""

    played_handler: Callable[[AudioFrame], None] | None = None
    """Called with each piece of answer audio when the client starts playing it, as near
    as the transport knows (the session's echo canceller sets it)."""

    session_settings: Mapping[str, object] = MappingProxyType({})
    """The settings a client may choose, as the session has them (JSON values), set
    before :meth:`opened`: a transport that says ``ready`` tells them."""

    dtmf_handler: Callable[[DTMFDigit], None] | None = None
    """Called with each key the caller presses, on the transports that carry keys (the
    session sets it; it returns at once)."""

    @property
    @abstractmethod
    def input_rate(self) -> int:
        """Sample rate of the frames :meth:`frames` yields."""

    @property
    @abstractmethod
    def input_channels(self) -> int:
        """Channel count of the frames :meth:`frames` yields."""

    @property
    @abstractmethod
    def output_rate(self) -> int:
        """Sample rate of the audio :meth:`play` expects."""

    @abstractmethod
    async def opened(self, session_id: str, room_id: str) -> None:
        """The session exists: tell the client its id, its room and the audio rates."""

    @abstractmethod
    def frames(self) -> AsyncIterator[AudioFrame]:
        """Inbound audio until the client goes away."""

    @abstractmethod
    async def play(self, frame: AudioFrame) -> None:
        """Queue mono audio at :attr:`output_rate` for playback; waits while the client is
        far behind (``PLAY_AHEAD_S`` queued), so a bounded buffer holds every answer."""

    @abstractmethod
    def flush(self) -> None:
        """Drop all queued audio now (barge-in)."""

    @abstractmethod
    async def wait_played(self) -> None:
        """Return once everything queued so far has been played out or flushed."""

    @abstractmethod
    async def notify(self, notice: Notice) -> None:
        """Tell the client about something that happened in its session."""

    @abstractmethod
    async def close(self, code: int = 1000, reason: str = "") -> None:
        """End the connection (``code`` follows the WebSocket close codes)."""

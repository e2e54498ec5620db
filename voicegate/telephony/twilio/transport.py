"""One Twilio call as a voice transport: µ-law 8 kHz both ways, marks, ``clear``, keys."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from voicegate.audio.frame import AudioFrame
from voicegate.audio.g711 import ULAW
from voicegate.telephony.pacing import PacedOutput
from voicegate.telephony.twilio.messages import (
    MEDIA_RATE,
    DigitPressed,
    MarkPlayed,
    MediaReceived,
    StreamStopped,
    TwilioStream,
)
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.endpoint import MessageSocket, SocketClosedError
from voicegate.voice.inbound import STREAM_STALL_MS
from voicegate.voice.notices import AnswerStarted, Notice, SessionError
from voicegate.voice.playout import Samples
from voicegate.voice.protocol import CloseCode
from voicegate.voice.transport import VoiceTransport

logger = logging.getLogger(__name__)


class TwilioTransport(VoiceTransport):
    """A call's Media Stream after its ``start``.

    Answer audio goes out as ``media`` messages in 20 ms frames, paced at most ``lead``
    seconds ahead of real time. After each answer a ``mark`` named after the answer's
    room event id is sent, and the answer counts as played when Twilio echoes it: the session
    knows what the caller has heard. A flush (barge-in) sends ``clear``; Twilio then drops
    what it holds and echoes the pending marks. A mark that never comes back is given up
    ``mark_timeout`` seconds after its audio should have played.
    """

    kind = "twilio"
    stall_ms = STREAM_STALL_MS

    def __init__(
        self,
        socket: MessageSocket,
        stream: TwilioStream,
        *,
        lead: float = 0.1,
        mark_timeout: float = 5.0,
    ) -> None:
        self._socket = socket
        self._stream = stream
        self._mark_timeout = mark_timeout
        self._output = PacedOutput(MEDIA_RATE, self._send_media, lead=lead)
        self._send_lock = asyncio.Lock()
        self._answer: str | None = None
        self._marks: dict[str, asyncio.Event] = {}
        self._sent_marks = 0

    @property
    def input_rate(self) -> int:
        """8 kHz: Twilio's µ-law."""
        return MEDIA_RATE

    @property
    def input_channels(self) -> int:
        """Mono."""
        return 1

    @property
    def output_rate(self) -> int:
        """8 kHz: the answers are spoken at the phone line's rate."""
        return MEDIA_RATE

    async def opened(self, session_id: str, room_id: str) -> None:
        """Start pacing answer audio (Twilio's protocol has no message for this)."""
        self._output.start(f"twilio-pacer-{session_id}")

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """The caller's audio until ``stop`` or the socket closes; keys go to the session,
        echoed marks to :meth:`wait_played`."""
        try:
            while self._stream.close_code is None:
                for event in self._stream.receive(await self._socket.receive()):
                    if isinstance(event, MediaReceived):
                        yield AudioFrame(ULAW.decode(event.payload), MEDIA_RATE)
                    elif isinstance(event, DigitPressed):
                        self._press(event.digit)
                    elif isinstance(event, MarkPlayed):
                        self._mark_played(event.name)
                    elif isinstance(event, StreamStopped):
                        return
        except SocketClosedError:
            return

    async def play(self, frame: AudioFrame) -> None:
        """Queue answer audio for the pacer."""
        self._output.push(frame)

    def flush(self) -> None:
        """Drop the queued answer audio and tell Twilio to drop what it holds (``clear``)."""
        self._output.flush()
        self._stream.send_clear()
        task = asyncio.ensure_future(self._send_pending())
        task.add_done_callback(_log_failure)

    async def wait_played(self) -> None:
        """Send everything queued, then a mark; return when Twilio has played up to it."""
        await self._output.buffer.wait_drained()
        self._sent_marks += 1
        name = self._answer or f"audio-{self._sent_marks}"
        self._answer = None
        played = self._marks[name] = asyncio.Event()
        self._stream.send_mark(name)
        await self._send_pending()
        try:
            await asyncio.wait_for(played.wait(), self._output_due() + self._mark_timeout)
        except TimeoutError:
            logger.warning("Twilio never echoed mark %s: counting its audio as played", name)
        finally:
            self._marks.pop(name, None)

    async def notify(self, notice: Notice) -> None:
        """Twilio has no message for notices: an answer's start names its mark; errors are
        logged."""
        if isinstance(notice, AnswerStarted):
            self._answer = notice.event_id
        elif isinstance(notice, SessionError):
            logger.warning("Twilio call: %s (%s)", notice.message, notice.code)

    async def close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """End the stream (Twilio goes on with the call's next TwiML, or hangs up)."""
        await self._output.stop()
        self._stream.close(code, reason)  # a protocol error closed it first: its code wins
        for played in self._marks.values():
            played.set()
        await self._socket.close(self._stream.close_code or code, self._stream.close_reason)

    def _press(self, digit: str) -> None:
        try:
            key = DTMFDigit(digit, source="twilio")
        except ValueError as exc:
            logger.warning("Twilio call: %s", exc)
            return
        if self.dtmf_handler is not None:
            self.dtmf_handler(key)

    def _mark_played(self, name: str) -> None:
        played = self._marks.get(name)
        if played is not None:
            played.set()

    def _output_due(self) -> float:
        return max(0.0, self._output.due - asyncio.get_running_loop().time())

    async def _send_media(self, samples: Samples) -> None:
        self._stream.send_media(ULAW.encode(samples))
        await self._send_pending()

    async def _send_pending(self) -> None:
        async with self._send_lock:
            try:
                for message in self._stream.data_to_send():
                    await self._socket.send(message)
            except SocketClosedError:
                pass


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("sending to Twilio failed", exc_info=task.exception())

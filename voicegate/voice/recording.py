"""Call recording: both directions of a session in one time-aligned stereo file.

The caller is the left channel, the answers the right one, silence where nobody spoke.
:class:`CallRecorder` runs on the event loop and only queues: the caller's 16 kHz frames as
the inbound path hands them over (the session's clock), the answer audio at the moment it is
queued for the client (after the previous answer's end, if that is later), and the cut of a
barge-in, which drops the answer audio not yet heard. A moment is a place on the call's
clock, or on the caller's channel where that runs ahead of the clock (late audio came after
the inbound path had fed silence in its place): an answer always lands after the caller's
words that it answers, and none of it is lost beside audio already written. A writer thread
lays the two channels side by side and appends them to the file while the call runs,
flushing every ``WRITE_INTERVAL_S`` (see ``voicegate.audio.recording_file``), so a server
killed mid-call leaves a playable file. Next to the file, ``<id>.json`` describes the
recording, its transcript so far included; the writer holds a lock on the file while the
call runs (:func:`recording_in_progress`), so a description whose file is unlocked and whose
``event_id`` is unset belongs to a call cut off by a crash
(``voicegate.server.recording_recovery`` posts it at the next start).

Every transport records the same way: the caller's channel is what the inbound path hands
over, 16 kHz mono, whatever the caller sent (a phone call's 8 kHz G.711, decoded and
resampled, so its left channel holds no sound above 4 kHz).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.audio.recording_file import RECORDING_FORMATS, RecordingFile, open_recording
from voicegate.audio.resample import resample
from voicegate.core.models import AudioContent, ChannelType, EventSource, RoomEvent, new_id, utcnow

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit
    from voicegate.voice.session import VoiceSession

logger = logging.getLogger(__name__)

RECORDING_RATE = 16000
"""The sample rate of every recording (the caller's audio is 16 kHz after the inbound path)."""
WRITE_INTERVAL_S = 0.2
"""How often the writer thread appends to the file (and flushes it): a killed server loses at
most about this much of a WAV recording."""
CALLER_LEAD_S = 0.06
"""How far the caller's channel may run ahead of the call's clock before its digital silence
is left out (see :meth:`CallRecorder.caller`)."""
RECORDINGS_PATH = "/recordings/"
"""Where the server serves a recording: ``GET /recordings/<id>`` (relative to its mount)."""


@dataclass(frozen=True, slots=True)
class RecordingOptions:
    """Where recordings go and in which format (``wav`` or ``ogg``: Opus in Ogg)."""

    folder: Path
    format: str = "wav"

    def __post_init__(self) -> None:
        if self.format not in RECORDING_FORMATS:
            raise ValueError(f"recording format {self.format!r} is not one of wav, ogg")


@dataclass(slots=True)
class RecordingInfo:
    """What ``<id>.json`` says of one recording."""

    id: str
    room_id: str
    session_id: str
    channel_id: str
    participant_id: str
    owner: str | None
    file: str
    mime_type: str
    started_at: str
    duration_seconds: float | None = None
    transcript: str = ""
    complete: bool = False
    event_id: str | None = None
    """The room event that carries the recording, once posted."""

    @property
    def url(self) -> str:
        """The recording's path on the server."""
        return RECORDINGS_PATH + self.id

    def save(self, folder: Path) -> None:
        """Write ``<id>.json`` into ``folder`` (atomically)."""
        target = folder / f"{self.id}.json"
        partial = target.with_suffix(".json.partial")
        partial.write_text(json.dumps(asdict(self), indent=1))
        partial.replace(target)

    @classmethod
    def load(cls, path: Path) -> RecordingInfo:
        """The description stored at ``path``."""
        return cls(**json.loads(path.read_text()))

    def room_event(self) -> RoomEvent:
        """The audio event of the room that carries this recording, sent by the session's
        voice channel: URL, duration, transcript; ``metadata.recording`` says whether the
        recording is complete (False: its call was cut off by a crash)."""
        return RoomEvent(
            self.room_id,
            EventSource(self.channel_id, ChannelType.VOICE, self.participant_id),
            AudioContent(self.url, self.mime_type, self.duration_seconds, self.transcript),
            metadata=self._event_metadata(),
        )

    def _event_metadata(self) -> dict[str, Any]:
        recording = {"id": self.id, "session_id": self.session_id, "complete": self.complete}
        return {"recording": recording}


def recording_in_progress(path: Path) -> bool:
    """Whether a recorder (of any process) still writes the recording file at ``path``."""
    try:
        with path.open("rb") as file:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except FileNotFoundError:
        return False
    return False


@dataclass(slots=True)
class _Timeline:
    """The writer thread's state: the right channel waiting beside the left one."""

    file: RecordingFile
    committed: int = 0  # samples written per channel
    left: list[np.ndarray] = field(default_factory=list)
    left_pending: int = 0
    right: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))

    def caller(self, samples: np.ndarray) -> None:
        self.left.append(samples)
        self.left_pending += len(samples)

    def answer(self, at: int, samples: np.ndarray) -> None:
        start = at - self.committed  # never negative: ``at`` is past the caller's channel
        end = start + len(samples)
        if end > len(self.right):
            self.right = np.concatenate([self.right, np.zeros(end - len(self.right), np.int16)])
        self.right[start:end] = samples

    def cut(self, at: int) -> None:
        self.right = self.right[: at - self.committed]  # ``at`` is past the caller's channel

    def commit(self, until: int | None = None) -> None:
        """Write the left channel so far (padded with silence up to ``until``) beside the right."""
        count = self.left_pending
        if until is not None:
            count = max(count, until - self.committed)
        if not count:
            return
        stereo = np.zeros((count, 2), np.int16)
        if self.left:
            left = np.concatenate(self.left)
            stereo[: len(left), 0] = left
        right = self.right[:count]
        stereo[: len(right), 1] = right
        self.right = self.right[count:]
        self.left, self.left_pending = [], 0
        self.committed += count
        self.file.write(stereo)
        self.file.flush()


class CallRecorder:
    """Records one session; see the module docstring. ``clock`` is the event loop's by default."""

    def __init__(
        self,
        options: RecordingOptions,
        session: VoiceSession,
        owner: str | None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._clock = clock if clock is not None else asyncio.get_running_loop().time
        self._started = self._clock()
        self._answer_end = 0
        self._caller_end = 0  # samples of the caller's channel so far
        self._lines: list[str] = []
        self._written = 0  # samples per channel in the file, once finished
        self._ended = False
        self._folder = options.folder
        recording_id = new_id()
        self.info = RecordingInfo(
            id=recording_id,
            room_id=session.room_id,
            session_id=session.id,
            channel_id=session.channel_id,
            participant_id=session.participant_id,
            owner=owner,
            file=f"{recording_id}.{options.format}",
            mime_type=RECORDING_FORMATS[options.format],
            started_at=utcnow().isoformat(),
        )
        self._queue: queue.SimpleQueue[tuple[str, int, np.ndarray | None]] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._write, name=f"recorder-{session.id}", daemon=True
        )
        self._thread.start()

    def start(self) -> None:
        """The call begins now (its client is told the session is open): the recording's
        time 0, or its construction's if this is never called."""
        self._started = self._clock()

    def caller(self, frame: AudioFrame) -> None:
        """The caller's next 16 kHz mono frame (the session's inbound clock).

        The inbound path feeds silence to a caller whose audio stops for a while; if the
        late audio comes after all, the caller's audio runs ahead of the call's clock. Its
        next frames of digital silence (every transport but a live microphone sends them
        between words) are then left out until the channel is back on the clock."""
        if self._ended:
            return
        samples = frame.samples.reshape(-1)
        ahead = self._caller_end + len(samples) - self._now()
        if ahead > CALLER_LEAD_S * RECORDING_RATE and not samples.any():
            return
        self._caller_end += len(samples)
        self._queue.put(("caller", 0, samples.copy()))

    def answer(self, frame: AudioFrame) -> None:
        """Answer audio queued for the client now (mono, any rate)."""
        if self._ended:
            return
        samples = resample(frame, RECORDING_RATE).samples.reshape(-1)
        at = max(self._position(), self._answer_end)
        self._answer_end = at + len(samples)
        self._queue.put(("answer", at, samples))

    def cut(self) -> None:
        """The answer stopped now (barge-in): what was queued beyond is never heard."""
        now = self._position()
        self._answer_end = now
        self._queue.put(("cut", now, None))

    def said(self, who: str, text: str) -> None:
        """A line of the call's transcript: ``who`` is ``caller`` or ``answer`` (saved in
        the description soon, so a crash keeps it)."""
        self._lines.append(f"{who}: {text}")
        self.info.transcript = "\n".join(self._lines)
        if not self._ended:
            self._queue.put(("save", 0, None))

    def end(self) -> None:
        """The call ended now: the recording is this long (at least); nothing more is taken."""
        if not self._ended:
            self._ended = True
            self._queue.put(("end", self._position(), None))

    async def finish(self) -> RecordingInfo:
        """End the recording (if :meth:`end` has not) and describe it (``<id>.json`` updated)."""
        self.end()
        await asyncio.to_thread(self._thread.join)
        self.info.duration_seconds = round(self._written / RECORDING_RATE, 3)
        self.info.complete = True
        await asyncio.to_thread(self.info.save, self._folder)
        return self.info

    @property
    def folder(self) -> Path:
        """Where the recording and its description are."""
        return self._folder

    def _now(self) -> int:
        return round((self._clock() - self._started) * RECORDING_RATE)

    def _position(self) -> int:
        """Where the call is now in the recording: the clock, or the caller's channel if it
        runs ahead."""
        return max(self._now(), self._caller_end)

    def _write(self) -> None:
        """The writer thread: opens and locks the file, then writes what is queued until the
        end (the lock goes with the thread, or with the process)."""
        path = self._folder / self.info.file
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            lock = path.open("ab")  # created here, so it is locked before anything is in it
        except OSError:
            logger.exception("recording %s could not be started", self.info.id)
            return
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                timeline = _Timeline(open_recording(path, RECORDING_RATE))
                self.info.save(self._folder)
            except OSError:
                logger.exception("recording %s could not be started", self.info.id)
                return
            try:
                self._run(timeline)
            except Exception:
                logger.exception("recording %s failed", self.info.id)
            self._written = timeline.committed

    def _run(self, timeline: _Timeline) -> None:
        while True:
            items = [self._queue.get()]
            time.sleep(WRITE_INTERVAL_S)  # one write and flush for what comes meanwhile
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for kind, at, samples in items:
                if kind == "caller" and samples is not None:
                    timeline.caller(samples)
                elif kind == "answer" and samples is not None:
                    timeline.answer(at, samples)
                elif kind == "cut":
                    timeline.cut(at)
                elif kind == "save":
                    self.info.save(self._folder)
                elif kind == "end":
                    timeline.commit(until=at)
                    timeline.file.close()
                    return
            timeline.commit()


async def post_recording(kit: RoomKit, recorder: CallRecorder) -> None:
    """Finish a session's recording; it becomes an audio event of the session's room, sent
    by the session's voice channel (:meth:`RecordingInfo.room_event`)."""
    info = await recorder.finish()
    event = info.room_event()
    posted = await kit.send_event(
        info.room_id,
        info.channel_id,
        event.content,
        participant_id=info.participant_id,
        metadata=event.metadata,
    )
    info.event_id = posted.id
    await asyncio.to_thread(info.save, recorder.folder)
    logger.info("session %s: recording %s posted", info.session_id, info.id)

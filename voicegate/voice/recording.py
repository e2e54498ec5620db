"""Call recording: both directions of a session in one time-aligned stereo file.

The caller is the left channel, the answers the right one, silence where nobody spoke.
:class:`CallRecorder` runs on the event loop and only queues: the caller's 16 kHz frames
as the inbound path hands them over (the session's clock), the answer audio at the moment
it is queued for the client (after the previous answer's end, if that is later), and the
cut of a barge-in, which drops the answer audio not yet heard. A writer thread lays the
two channels side by side and appends them to the file while the call runs, flushing
every ``WRITE_INTERVAL_S`` (see ``voicegate.audio.recording_file``), so a server killed mid-call
leaves a playable file. Next to the file, ``<id>.json`` describes the recording.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.audio.recording_file import RECORDING_FORMATS, RecordingFile, open_recording
from voicegate.audio.resample import resample
from voicegate.core.models import AudioContent, new_id, utcnow

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit
    from voicegate.voice.session import VoiceSession

logger = logging.getLogger(__name__)

RECORDING_RATE = 16000
"""The sample rate of every recording (the caller's audio is 16 kHz after the inbound path)."""
WRITE_INTERVAL_S = 0.2
"""How often the writer thread appends to the file (and flushes it): a killed server loses at
most about this much of a WAV recording."""
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
    owner: str | None
    file: str
    mime_type: str
    started_at: str
    duration_seconds: float | None = None
    transcript: str = ""
    complete: bool = False

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
        start = at - self.committed
        if start < 0:  # already written beside the caller: too late for those samples
            samples, start = samples[-start:], 0
        end = start + len(samples)
        if end > len(self.right):
            self.right = np.concatenate([self.right, np.zeros(end - len(self.right), np.int16)])
        self.right[start:end] = samples

    def cut(self, at: int) -> None:
        self.right = self.right[: max(at - self.committed, 0)]

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
        room_id: str,
        session_id: str,
        owner: str | None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._clock = clock if clock is not None else asyncio.get_running_loop().time
        self._started = self._clock()
        self._answer_end = 0
        self._lines: list[str] = []
        self._written = 0  # samples per channel in the file, once finished
        self._ended = False
        self._folder = options.folder
        recording_id = new_id()
        self.info = RecordingInfo(
            id=recording_id,
            room_id=room_id,
            session_id=session_id,
            owner=owner,
            file=f"{recording_id}.{options.format}",
            mime_type=RECORDING_FORMATS[options.format],
            started_at=utcnow().isoformat(),
        )
        self._queue: queue.SimpleQueue[tuple[str, int, np.ndarray | None]] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._write, name=f"recorder-{session_id}", daemon=True
        )
        self._thread.start()

    def caller(self, frame: AudioFrame) -> None:
        """The caller's next 16 kHz mono frame (the session's inbound clock)."""
        if not self._ended:
            self._queue.put(("caller", 0, frame.samples.reshape(-1).copy()))

    def answer(self, frame: AudioFrame) -> None:
        """Answer audio queued for the client now (mono, any rate)."""
        if self._ended:
            return
        samples = resample(frame, RECORDING_RATE).samples.reshape(-1)
        at = max(self._now(), self._answer_end)
        self._answer_end = at + len(samples)
        self._queue.put(("answer", at, samples))

    def cut(self) -> None:
        """The answer stopped now (barge-in): what was queued beyond is never heard."""
        now = self._now()
        self._answer_end = now
        self._queue.put(("cut", now, None))

    def said(self, who: str, text: str) -> None:
        """A line of the call's transcript: ``who`` is ``caller`` or ``answer``."""
        self._lines.append(f"{who}: {text}")

    def end(self) -> None:
        """The call ended now: the recording is this long (at least); nothing more is taken."""
        if not self._ended:
            self._ended = True
            self._queue.put(("end", self._now(), None))

    async def finish(self) -> RecordingInfo:
        """End the recording (if :meth:`end` has not) and describe it (``<id>.json`` updated)."""
        self.end()
        await asyncio.to_thread(self._thread.join)
        self.info.duration_seconds = round(self._written / RECORDING_RATE, 3)
        self.info.transcript = "\n".join(self._lines)
        self.info.complete = True
        await asyncio.to_thread(self.info.save, self._folder)
        return self.info

    def _now(self) -> int:
        return round((self._clock() - self._started) * RECORDING_RATE)

    def _write(self) -> None:
        """The writer thread: opens the file, then writes what is queued until the end."""
        try:
            self._folder.mkdir(parents=True, exist_ok=True)
            self.info.save(self._folder)
            timeline = _Timeline(open_recording(self._folder / self.info.file, RECORDING_RATE))
        except OSError:
            logger.exception("recording %s could not be started", self.info.id)
            return
        try:
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
                    elif kind == "end":
                        timeline.commit(until=at)
                        timeline.file.close()
                        self._written = timeline.committed
                        return
                timeline.commit()
        except Exception:
            logger.exception("recording %s failed", self.info.id)
            self._written = timeline.committed


async def post_recording(
    kit: RoomKit, recorder: CallRecorder, session: VoiceSession, channel_id: str
) -> None:
    """Finish ``session``'s recording; it becomes an audio event of the room, sent by the
    session's channel ``channel_id``."""
    info = await recorder.finish()
    content = AudioContent(info.url, info.mime_type, info.duration_seconds, info.transcript)
    await kit.send_event(
        session.room_id,
        channel_id,
        content,
        participant_id=session.participant_id,
        metadata={"recording": {"id": info.id, "session_id": session.id}},
    )
    logger.info("session %s: recording %s posted", session.id, info.id)

"""Recordings of calls cut off by a crash: at the next start, each gets its room event.

A recording whose description has no ``event_id`` and whose file no recorder holds
(``voicegate.voice.recording.recording_in_progress``) lost its process mid-call. Its file
is measured (a WAV's header repaired), its description keeps ``complete: false`` and gets
that real duration, and its audio event stored in the room's history directly, as the session's
voice channel would have sent it: the call is over, so there is nobody to deliver it to
live, and a room closed meanwhile keeps it too.
"""

from __future__ import annotations

import asyncio
import logging

from voicegate.audio.recording_file import recorded_seconds
from voicegate.core.models import EventStatus
from voicegate.core.store import ConversationStore
from voicegate.server.recordings import RecordingLibrary
from voicegate.voice.recording import RecordingInfo, recording_in_progress

logger = logging.getLogger(__name__)


async def recover_recordings(library: RecordingLibrary, store: ConversationStore) -> list[str]:
    """Give every recording cut off by a crash its room event; their ids."""
    recovered = []
    for info in await asyncio.to_thread(_cut_off, library):
        try:
            await _recover(library, store, info)
        except Exception:  # one bad recording never stops the server or the others
            logger.exception("recording %s could not be recovered", info.id)
            continue
        recovered.append(info.id)
    if recovered:
        logger.info("%d recordings cut off by a crash got their room events", len(recovered))
    return recovered


def _cut_off(library: RecordingLibrary) -> list[RecordingInfo]:
    return [
        info
        for info in library.all()
        if info.event_id is None and not recording_in_progress(library.file_of(info))
    ]


async def _recover(
    library: RecordingLibrary, store: ConversationStore, info: RecordingInfo
) -> None:
    if not info.complete:  # else only its posting was cut off: its duration is known
        path = library.file_of(info)
        seconds = await asyncio.to_thread(recorded_seconds, path) if path.exists() else 0.0
        info.duration_seconds = round(seconds, 3)
    event = info.room_event()
    event.status = EventStatus.DELIVERED
    committed = await store.add_event(event)
    info.event_id = committed.id
    await asyncio.to_thread(info.save, library.folder)
    logger.warning(
        "recording %s of room %s (%.1f s, %s) was not posted before the server stopped: posted now",
        info.id,
        info.room_id,
        info.duration_seconds,
        "complete" if info.complete else "cut off mid-call",
    )

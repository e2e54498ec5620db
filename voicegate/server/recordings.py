"""The call recordings in the data folder: listing, retention, and ``GET /recordings/<id>``.

Each recording is a file and its description ``<id>.json`` (``voicegate.voice.recording``).
A recording is found by its id only, never by a path the client names, and is served only
to a client whose token grants the recording's room (listed, or the room's owner).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from voicegate.server.adapters import http_request
from voicegate.voice.access import RoomGrant
from voicegate.voice.auth import AuthCallback, authenticate
from voicegate.voice.http import HttpReply
from voicegate.voice.recording import RecordingInfo, recording_in_progress

logger = logging.getLogger(__name__)

RECORDINGS_FOLDER = "recordings"
"""The recordings' folder inside the data folder."""
_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class RecordingLibrary:
    """The recordings kept in ``folder``."""

    folder: Path

    def all(self) -> list[RecordingInfo]:
        """Every recording, oldest first (an unreadable description is skipped and logged)."""
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(RecordingInfo.load(path))
            except (OSError, ValueError, TypeError) as error:
                logger.warning("recording description %s unreadable: %s", path.name, error)
        return sorted(found, key=lambda info: info.started_at)

    def get(self, recording_id: str) -> RecordingInfo | None:
        """The recording ``recording_id``, or ``None`` (also for anything that is no id)."""
        if not _ID.fullmatch(recording_id):
            return None
        path = self.folder / f"{recording_id}.json"
        try:
            return RecordingInfo.load(path)
        except (OSError, ValueError, TypeError):
            return None

    def file_of(self, info: RecordingInfo) -> Path:
        """The recording's audio file."""
        return self.folder / Path(info.file).name

    def delete_older_than(self, days: float, now: float | None = None) -> list[str]:
        """Delete the recordings whose description is older than ``days``, but for those
        still being written (a long call); their ids."""
        limit = (time.time() if now is None else now) - days * 86400.0
        deleted = []
        for info in self.all():
            description = self.folder / f"{info.id}.json"
            try:
                if description.stat().st_mtime >= limit or recording_in_progress(
                    self.file_of(info)
                ):
                    continue
                self.file_of(info).unlink(missing_ok=True)
                description.unlink()
            except OSError as error:
                logger.warning("recording %s not deleted: %s", info.id, error)
                continue
            deleted.append(info.id)
        if deleted:
            logger.info("deleted %d recordings older than %g days", len(deleted), days)
        return deleted


def recording_route(
    library: RecordingLibrary, auth: AuthCallback | None
) -> Callable[[Request], Awaitable[Response]]:
    """The handler of ``GET /recordings/{recording_id}``: 401 without a valid token, 404 for
    a recording that does not exist or whose room the token does not grant (the same
    answer, so a refusal tells nothing of other rooms), else the file."""

    async def serve(request: Request) -> Response:
        outcome = await authenticate(auth, http_request(request, request.method))
        if not outcome.accepted:
            return _error(401, "unauthorized")
        info = await asyncio.to_thread(library.get, request.path_params["recording_id"])
        grant = RoomGrant.from_metadata(outcome.metadata)
        if info is None or not grant.covers(info.room_id, info.owner):
            return _error(404, "no such recording")
        path = library.file_of(info)
        if not path.is_file():
            return _error(404, "no such recording")
        return FileResponse(path, media_type=info.mime_type, filename=path.name)

    return serve


def _error(status: int, message: str) -> Response:
    reply = HttpReply.error(status, message)
    return JSONResponse(reply.body, reply.status)

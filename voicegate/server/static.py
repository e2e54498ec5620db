"""Static files for the front door: confined to one directory, with content types."""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import Path

from voicegate.server.messages import HttpResponse

_TEXT_TYPES = {"application/javascript", "application/json", "image/svg+xml"}
_EXTRA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}


def content_type_for(path: Path) -> str:
    """The ``Content-Type`` to serve ``path`` with (text types in UTF-8)."""
    guessed = _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    content_type = guessed or "application/octet-stream"
    if content_type.startswith("text/") or content_type in _TEXT_TYPES:
        return f"{content_type}; charset=utf-8"
    return content_type


class StaticFiles:
    """Serves the files under ``directory``; a directory request serves its ``index.html``."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            raise ValueError(f"static directory {directory} does not exist or is not a directory")
        self._root = directory.resolve()

    def resolve(self, relative: str) -> Path | None:
        """The file ``relative`` names inside the directory, or ``None`` (missing or outside it)."""
        if "\x00" in relative:
            return None
        candidate = (self._root / relative.lstrip("/")).resolve()
        if not candidate.is_relative_to(self._root):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        return candidate if candidate.is_file() else None

    def _read(self, relative: str) -> tuple[Path, bytes] | None:
        path = self.resolve(relative)
        return None if path is None else (path, path.read_bytes())

    async def respond(self, relative: str) -> HttpResponse:
        """The file as a response, or a 404 that does not say why."""
        found = await asyncio.to_thread(self._read, relative)
        if found is None:
            return HttpResponse.error(404, "not found")
        path, body = found
        return HttpResponse(200, body, content_type_for(path), {"Cache-Control": "no-cache"})

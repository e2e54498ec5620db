"""The call page's files: Starlette's static files (no traversal), voicegate's content types."""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

PAGE_DIR = Path(__file__).with_name("static")
"""The call page: ``index.html`` and the files it loads by relative URL."""

_TEXT_TYPES = {"application/javascript", "application/json", "image/svg+xml"}
_EXTRA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm"}


def content_type_for(path: Path) -> str:
    """The ``Content-Type`` to serve ``path`` with (text types in UTF-8)."""
    guessed = _EXTRA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    content_type = guessed or "application/octet-stream"
    if content_type.startswith("text/") or content_type in _TEXT_TYPES:
        return f"{content_type}; charset=utf-8"
    return content_type


class PageFiles(StaticFiles):
    """Files of one directory, ``GET``/``HEAD`` only; revalidated on every load (``no-cache``).

    Paths that leave the directory, symlinks out of it included, are 404 like missing files.
    """

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        if response.status_code == 200:
            response.headers["Content-Type"] = content_type_for(Path(full_path))
        return response

"""The page's files: content types, no-cache, and nothing outside the folder (symlinks included)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from voicegate.server.embedded import EmbeddedServer
from voicegate.server.static import PageFiles, content_type_for


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("data.json", "application/json; charset=utf-8"),
        ("icon.svg", "image/svg+xml; charset=utf-8"),
        ("audio.wav", "audio/x-wav"),
        ("blob", "application/octet-stream"),
    ],
)
def test_content_types(name: str, expected: str) -> None:
    assert content_type_for(Path(name)) == expected


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def test_files_are_served_and_links_out_of_the_folder_are_not(tmp_path: Path) -> None:
    root = tmp_path / "page"
    root.mkdir()
    (root / "tool.mjs").write_text("export {}")
    (tmp_path / "outside.txt").write_text("do not serve")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    app = Starlette(routes=[Mount("/files", PageFiles(directory=root))])
    async with EmbeddedServer(app, "127.0.0.1", 0) as server:
        base = f"http://127.0.0.1:{server.port}/files"
        status, headers, body = await asyncio.to_thread(_get, f"{base}/tool.mjs")
        assert (status, body) == (200, b"export {}")
        assert headers["content-type"] == "text/javascript; charset=utf-8"
        assert headers["cache-control"] == "no-cache"
        status, _, body = await asyncio.to_thread(_get, f"{base}/link.txt")
        assert status == 404
        assert b"do not serve" not in body

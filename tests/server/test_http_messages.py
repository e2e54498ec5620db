"""The front door's request/response values and static-file rules, without sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicegate.server.messages import CaseInsensitiveHeaders, HttpRequest, HttpResponse
from voicegate.server.static import StaticFiles, content_type_for


def test_headers_ignore_case_and_join_repeats() -> None:
    headers = CaseInsensitiveHeaders([("Content-Type", "a/b"), ("X-Tag", "1"), ("x-tag", "2")])
    assert headers["content-type"] == "a/b"
    assert headers["X-TAG"] == "1, 2"
    assert list(headers) == ["Content-Type", "X-Tag"]
    assert len(headers) == 2
    assert headers.get("missing") is None


def test_request_json_error_is_clear() -> None:
    assert HttpRequest("POST", "/x", body=b'{"a": 1}').json() == {"a": 1}
    with pytest.raises(ValueError, match="request body is not valid JSON"):
        HttpRequest("POST", "/x", body=b"{nope").json()
    with pytest.raises(ValueError, match="request body is not valid JSON"):
        HttpRequest("POST", "/x", body=b"\xff").json()


def test_response_helpers() -> None:
    assert HttpResponse.json({"a": 1}, 201).body == b'{"a":1}'
    assert HttpResponse.text("hi").content_type == "text/plain; charset=utf-8"
    error = HttpResponse.error(413, "too big")
    assert (error.status, error.body) == (
        413,
        b'{"error":"request_entity_too_large","message":"too big"}',
    )
    wire = HttpResponse(204, headers={"Allow": "GET"}).to_websockets()
    assert (wire.status_code, wire.headers["Allow"], wire.headers["Content-Length"]) == (
        204,
        "GET",
        "0",
    )


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


def test_static_resolution_stays_inside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "index.html").write_text("x")
    (tmp_path / "outside.txt").write_text("secret")
    (root / "link.txt").symlink_to(tmp_path / "outside.txt")
    files = StaticFiles(root)
    assert files.resolve("sub") == (root / "sub" / "index.html").resolve()
    assert files.resolve("../outside.txt") is None
    assert files.resolve("/etc/passwd") is None
    assert files.resolve("link.txt") is None
    assert files.resolve("sub/\x00") is None
    with pytest.raises(ValueError, match="does not exist"):
        StaticFiles(tmp_path / "missing")

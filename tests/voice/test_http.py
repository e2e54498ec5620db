"""The I/O-free HTTP values the voice backends and auth callbacks see."""

from __future__ import annotations

import pytest

from voicegate.voice.http import CaseInsensitiveHeaders, HttpReply, HttpRequest


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
    with pytest.raises(ValueError, match="not valid JSON: nested deeper than 32 levels"):
        HttpRequest("POST", "/x", body=b"[" * 100_000 + b"]" * 100_000).json()
    with pytest.raises(ValueError, match="not valid JSON: an integer has more than 20 digits"):
        HttpRequest("POST", "/x", body=b'{"sdp": ' + b"1" * 5000 + b"}").json()


def test_error_replies_name_the_status_in_snake_case() -> None:
    error = HttpReply.error(413, "too big", {"Retry-After": "1"})
    assert (error.status, error.body, error.headers) == (
        413,
        {"error": "request_entity_too_large", "message": "too big"},
        {"Retry-After": "1"},
    )
    assert HttpReply.error(415, "json please").body["error"] == "unsupported_media_type"

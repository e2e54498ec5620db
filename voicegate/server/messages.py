"""The front door's HTTP request and response values, independent of any socket."""

from __future__ import annotations

import email.utils
import http
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.datastructures import Headers
from websockets.http11 import Request, Response


class CaseInsensitiveHeaders(Mapping[str, str]):
    """Read-only HTTP headers; lookups ignore case, repeated fields are joined with ``", "``."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        merged: dict[str, tuple[str, str]] = {}
        for name, value in items:
            key = name.lower()
            if key in merged:
                merged[key] = (merged[key][0], f"{merged[key][1]}, {value}")
            else:
                merged[key] = (name, value)
        self._items = merged

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"CaseInsensitiveHeaders({list(self._items.values())!r})"


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request as handlers see it; ``path`` is percent-decoded, without the query."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=CaseInsensitiveHeaders)
    body: bytes = b""
    remote_address: tuple[str, int] | None = None

    @classmethod
    def from_websockets(
        cls, request: Request, body: bytes, remote_address: tuple[str, int] | None
    ) -> HttpRequest:
        """Build from a websockets handshake request plus the body read before it."""
        target = urlsplit(request.path)
        return cls(
            method=request.method,
            path=unquote(target.path),
            query=dict(parse_qsl(target.query, keep_blank_values=True)),
            headers=CaseInsensitiveHeaders(request.headers.raw_items()),
            body=body,
            remote_address=remote_address,
        )

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` with a clear message when it is not."""
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"request body is not valid JSON: {exc}") from None


@dataclass(slots=True)
class HttpResponse:
    """A complete HTTP response; the connection is closed after it is sent."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, data: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """A JSON response."""
        body = json.dumps(data, separators=(",", ":")).encode()
        return cls(status, body, "application/json", dict(headers or {}))

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"
    ) -> HttpResponse:
        """A text response."""
        return cls(status, text.encode(), content_type)

    @classmethod
    def error(
        cls, status: int, message: str, headers: dict[str, str] | None = None
    ) -> HttpResponse:
        """The front door's error shape: ``{"error": <reason phrase slug>, "message": ...}``."""
        slug = http.HTTPStatus(status).phrase.lower().replace(" ", "_")
        return cls.json({"error": slug, "message": message}, status, headers)

    def to_websockets(self) -> Response:
        """The websockets ``Response`` that serialises this one."""
        status = http.HTTPStatus(self.status)
        headers = Headers(
            [
                ("Date", email.utils.formatdate(usegmt=True)),
                ("Connection", "close"),
                ("Content-Type", self.content_type),
                ("Content-Length", str(len(self.body))),
            ]
        )
        for name, value in self.headers.items():
            headers[name] = value
        return Response(status.value, status.phrase, headers, self.body)

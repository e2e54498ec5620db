"""HTTP requests and replies as voice backends see them, independent of any server or socket.

The server that hosts the backends (``voicegate.server``, or any ASGI server the app is
mounted in) turns its own request into an :class:`HttpRequest` and writes an
:class:`HttpReply` back. Auth callbacks receive the same :class:`HttpRequest`.
"""

from __future__ import annotations

import http
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from voicegate.voice.json_input import InvalidJSONError, parse_client_json


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
    """One HTTP request (or WebSocket upgrade request) as backends and auth callbacks see it.

    ``path`` is the full path the client asked for, percent-decoded, without the query
    (a mount prefix included); ``query`` holds the last value of each query parameter.
    """

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=CaseInsensitiveHeaders)
    body: bytes = b""
    remote_address: tuple[str, int] | None = None

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` with a clear message when it is not.

        The limits of :func:`~voicegate.voice.json_input.parse_client_json` apply.
        """
        try:
            return parse_client_json(self.body)
        except InvalidJSONError as exc:
            raise ValueError(f"request body is not valid JSON: {exc}") from None


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A reply: ``status``, the ``body`` and extra ``headers``.

    The body is a JSON object, or text of ``media_type`` (such as TwiML's XML).
    """

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"

    @classmethod
    def error(cls, status: int, message: str, headers: dict[str, str] | None = None) -> HttpReply:
        """voicegate's error shape: ``{"error": <reason phrase in snake_case>, "message": ...}``."""
        slug = http.HTTPStatus(status).phrase.lower().replace(" ", "_")
        return cls(status, {"error": slug, "message": message}, dict(headers or {}))

"""Signed tokens that name the rooms their holder may join, and the endpoint that renews them.

A token is ``<payload>.<signature>``, both base64url without padding. The payload is
compact JSON::

    {"sub": "alice", "owner": "Yc3...", "rooms": ["a41e..."], "iat": 1733000000.0,
     "exp": 1733000600.0, "claims": {}}

``rooms`` lists the existing rooms the holder may join, or is ``"*"`` (every room, only
when minted so explicitly); ``owner`` is a random id that the rooms its sessions create
are recorded with, so the holder (and its renewed tokens) may join them again. The
signature is HMAC-SHA256 of the encoded payload. ``docs/protocol.md`` describes the
format and the renewal endpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from voicegate.voice.access import ANY_ROOM, OWNER_KEY, ROOMS_KEY
from voicegate.voice.http import HttpReply, HttpRequest

logger = logging.getLogger(__name__)

TOKEN_SUBPROTOCOL_PREFIX = "voicegate.token."
"""A browser passes a token as the WebSocket subprotocol ``voicegate.token.<token>``."""

MIN_SECRET_BYTES = 16
"""The shortest signing secret :class:`TokenAuth` takes."""

_PAYLOAD_TYPES: dict[str, type | tuple[type, ...]] = {
    "sub": str,
    "owner": str,
    "rooms": (list, str),
    "iat": (int, float),
    "exp": (int, float),
    "claims": dict,
}


class TokenAuth:
    """Short-lived signed tokens, usable as an :data:`~voicegate.voice.auth.AuthCallback`.

    The callback reads the token from the query string (``?token=``), the WebSocket
    subprotocol (``voicegate.token.<token>``) or an ``Authorization: Bearer`` header,
    and returns ``{"subject", "owner", "rooms", "claims", "expires_at"}`` for a valid
    token: ``owner`` and ``rooms`` are the metadata keys that decide the connection's
    rooms (``voicegate.voice.access``). Several processes that share ``secret`` accept
    each other's tokens.
    """

    def __init__(
        self, secret: bytes, ttl: float = 300, *, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"TokenAuth secret must be at least {MIN_SECRET_BYTES} bytes")
        if ttl <= 0:
            raise ValueError(f"TokenAuth ttl must be positive, got {ttl}")
        self._secret = secret
        self._ttl = ttl
        self._clock = clock

    def issue(
        self,
        subject: str,
        claims: dict[str, Any] | None = None,
        ttl: float | None = None,
        *,
        rooms: Iterable[str] = (),
        any_room: bool = False,
        owner: str | None = None,
    ) -> str:
        """A token for ``subject``, valid ``ttl`` seconds (default: the constructor's).

        It may join the existing ``rooms`` (every room with ``any_room``) and the rooms its
        sessions create, which are recorded as ``owner``'s (default: a new random id, so
        they are this token's own).
        """
        if isinstance(rooms, str):
            raise TypeError("rooms must be a collection of room ids, not one string")
        now = self._clock()
        payload = {
            "sub": subject,
            "owner": owner if owner is not None else secrets.token_urlsafe(12),
            "rooms": ANY_ROOM if any_room else sorted(set(rooms)),
            "iat": now,
            "exp": now + (self._ttl if ttl is None else ttl),
            "claims": claims or {},
        }
        return self._encode(payload)

    def verify(self, token: str) -> dict[str, Any] | None:
        """The metadata of a valid token, or ``None`` (the reason is logged, the token never)."""
        payload = self._payload(token)
        if payload is None:
            return None
        return {
            "subject": payload["sub"],
            OWNER_KEY: payload["owner"],
            ROOMS_KEY: payload["rooms"],
            "claims": payload["claims"],
            "expires_at": payload["exp"],
        }

    def renew(self, token: str) -> tuple[str, float] | None:
        """A fresh token for a valid ``token`` and when it expires: the same subject, owner,
        rooms and claims, the same lifetime counted from now; ``None`` if ``token`` is
        invalid or expired."""
        payload = self._payload(token)
        if payload is None:
            return None
        now = self._clock()
        expires_at = now + payload["exp"] - payload["iat"]
        return self._encode({**payload, "iat": now, "exp": expires_at}), expires_at

    async def __call__(self, context: Any) -> dict[str, Any] | None:
        """Read the token from ``context`` (an ``HttpRequest``) and verify it."""
        token = token_from_request(getattr(context, "query", {}), getattr(context, "headers", {}))
        if token is None:
            logger.info("connection without a token rejected")
            return None
        return self.verify(token)

    def _encode(self, payload: dict[str, Any]) -> str:
        encoded = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
        return f"{encoded}.{self._sign(encoded)}"

    def _payload(self, token: str) -> dict[str, Any] | None:
        """The checked payload of a valid, unexpired token; logs why not on one line."""
        encoded, dot, signature = token.partition(".")
        if not (dot and token.isascii() and hmac.compare_digest(signature, self._sign(encoded))):
            logger.info("token rejected: bad signature or malformed token")
            return None
        try:
            payload = json.loads(_b64decode(encoded))
        except (binascii.Error, ValueError):
            logger.info("token rejected: undecodable payload")
            return None
        if not isinstance(payload, dict) or not all(
            isinstance(payload.get(key), kind) and not isinstance(payload.get(key), bool)
            for key, kind in _PAYLOAD_TYPES.items()
        ):
            logger.info("token rejected: the payload lacks one of %s", ", ".join(_PAYLOAD_TYPES))
            return None
        rooms = payload["rooms"]
        if rooms != ANY_ROOM and not (
            isinstance(rooms, list) and all(isinstance(room, str) for room in rooms)
        ):
            logger.info("token rejected: rooms is neither a list of room ids nor %r", ANY_ROOM)
            return None
        if payload["exp"] <= self._clock():
            logger.info("token rejected: expired")
            return None
        return payload

    def _sign(self, encoded_payload: str) -> str:
        digest = hmac.new(self._secret, encoded_payload.encode("ascii"), hashlib.sha256)
        return _b64encode(digest.digest())


class TokenRenewal:
    """``POST <path>`` with a valid token (Bearer or ``?token=``) answers a renewed one.

    An :class:`~voicegate.voice.endpoint.HttpEndpoint`: 200 ``{"token": ..., "expires_at":
    ...}`` (see :meth:`TokenAuth.renew`), or 401 ``unauthorized`` for a missing, invalid or
    expired token. The call page renews its token this way before it expires.
    """

    def __init__(self, tokens: TokenAuth, path: str = "/token/renew") -> None:
        self._tokens = tokens
        self._path = path

    @property
    def path(self) -> str:
        """Where the server routes renewal requests."""
        return self._path

    @property
    def max_body_bytes(self) -> int:
        """Renewal reads no body; a small one is tolerated."""
        return 1024

    async def respond(self, request: HttpRequest) -> HttpReply:
        """The renewed token, or 401."""
        token = token_from_request(request.query, request.headers)
        renewed = None if token is None else self._tokens.renew(token)
        if renewed is None:
            logger.info("token renewal refused with 401")
            return HttpReply.error(401, "unauthorized")
        fresh, expires_at = renewed
        return HttpReply(200, {"token": fresh, "expires_at": expires_at})


def token_from_request(query: Mapping[str, str], headers: Mapping[str, str]) -> str | None:
    """The token a client sent: query ``token``, subprotocol ``voicegate.token.<t>`` or Bearer."""
    if query.get("token"):
        return query["token"]
    for offered in headers.get("Sec-WebSocket-Protocol", "").split(","):
        candidate = offered.strip()
        if candidate.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return candidate.removeprefix(TOKEN_SUBPROTOCOL_PREFIX)
    scheme, _, credentials = headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Authentication of voice connections: the ``AuthCallback`` contract, ``auth_context`` and tokens.

Every transport calls :func:`authenticate` with its connection context (the
:class:`~voicegate.voice.http.HttpRequest` of the upgrade or the offer) before it
accepts anything, then runs its session factory through :func:`run_with_auth_context`
so the factory can read the metadata with ``auth_context.get()``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

AuthCallback = Callable[[Any], Awaitable[dict[str, Any] | None]]
"""Async callback for transport authentication: metadata dict to accept, ``None`` to reject."""

auth_context: ContextVar[dict[str, Any] | None] = ContextVar("auth_context", default=None)
"""Auth metadata of the current connection, set before the session factory runs."""

TOKEN_SUBPROTOCOL_PREFIX = "voicegate.token."
"""A browser passes a token as the WebSocket subprotocol ``voicegate.token.<token>``."""

REJECTED_REASON = "unauthorized"
"""The only reason a rejected client is told: never the callback's own error text."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """A verdict: ``metadata`` when accepted, a client-safe ``reason`` otherwise."""

    accepted: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


async def authenticate(
    callback: AuthCallback | None, context: Any, *, allow_anonymous: bool = False
) -> AuthOutcome:
    """Run ``callback`` on a connection's ``context`` and turn its answer into an outcome.

    A dict accepts; ``None`` or an exception rejects (the exception is logged with its
    traceback and never reaches the client). Without a callback the connection is
    rejected unless ``allow_anonymous`` is set.
    """
    if callback is None:
        if allow_anonymous:
            return AuthOutcome(accepted=True, metadata={"anonymous": True})
        logger.info("connection rejected: no auth callback configured and anonymous access is off")
        return AuthOutcome(accepted=False, reason=REJECTED_REASON)
    try:
        metadata = await callback(context)
    except Exception:
        logger.exception("auth callback raised; connection rejected")
        return AuthOutcome(accepted=False, reason=REJECTED_REASON)
    if metadata is None:
        logger.info("connection rejected by the auth callback")
        return AuthOutcome(accepted=False, reason=REJECTED_REASON)
    if not isinstance(metadata, dict):
        logger.error(
            "auth callback returned %s instead of a dict or None; connection rejected",
            type(metadata).__name__,
        )
        return AuthOutcome(accepted=False, reason=REJECTED_REASON)
    return AuthOutcome(accepted=True, metadata=metadata)


async def run_with_auth_context(
    metadata: dict[str, Any] | None,
    factory: Callable[..., Awaitable[T]],
    *args: Any,
) -> T:
    """Await ``factory(*args)`` in a copied context where ``auth_context`` is ``metadata``.

    The factory runs as a task of its own on that copy, so neither the caller nor any
    other connection ever sees this connection's metadata.
    """
    context = contextvars.copy_context()
    context.run(auth_context.set, metadata)
    return await asyncio.create_task(_call(factory, args), context=context)


async def _call(factory: Callable[..., Awaitable[T]], args: tuple[Any, ...]) -> T:
    return await factory(*args)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenAuth:
    """Short-lived signed tokens, usable as an :data:`AuthCallback`.

    A token is ``<payload>.<signature>``, both base64url: the payload is compact JSON
    ``{"sub": subject, "exp": unix_time, "claims": {...}}`` and the signature is
    HMAC-SHA256 of the encoded payload under ``secret``. The callback reads the token
    from the query string (``?token=``), the WebSocket subprotocol
    (``voicegate.token.<token>``) or an ``Authorization: Bearer`` header, and returns
    ``{"subject": ..., "claims": {...}, "expires_at": ...}`` for a valid token.
    """

    def __init__(
        self, secret: bytes, ttl: float = 300, *, clock: Callable[[], float] = time.time
    ) -> None:
        if len(secret) < 16:
            raise ValueError("TokenAuth secret must be at least 16 bytes")
        if ttl <= 0:
            raise ValueError(f"TokenAuth ttl must be positive, got {ttl}")
        self._secret = secret
        self._ttl = ttl
        self._clock = clock

    def issue(
        self, subject: str, claims: dict[str, Any] | None = None, ttl: float | None = None
    ) -> str:
        """A token for ``subject`` with ``claims``, valid ``ttl`` seconds (default: ctor ttl)."""
        lifetime = self._ttl if ttl is None else ttl
        payload = {"sub": subject, "exp": self._clock() + lifetime, "claims": claims or {}}
        encoded = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
        return f"{encoded}.{self._sign(encoded)}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """The metadata of a valid token, or ``None`` (the reason is logged, the token never)."""
        encoded, dot, signature = token.partition(".")
        if not dot or not hmac.compare_digest(signature, self._sign(encoded)):
            logger.info("token rejected: bad signature or malformed token")
            return None
        try:
            payload = json.loads(_b64decode(encoded))
        except (binascii.Error, ValueError):
            logger.info("token rejected: undecodable payload")
            return None
        if not (
            isinstance(payload, dict)
            and isinstance(payload.get("sub"), str)
            and isinstance(payload.get("exp"), int | float)
            and isinstance(payload.get("claims"), dict)
        ):
            logger.info("token rejected: payload lacks sub/exp/claims")
            return None
        if payload["exp"] <= self._clock():
            logger.info("token rejected: expired")
            return None
        return {
            "subject": payload["sub"],
            "claims": payload["claims"],
            "expires_at": payload["exp"],
        }

    async def __call__(self, context: Any) -> dict[str, Any] | None:
        """Read the token from ``context`` (an ``HttpRequest``) and verify it."""
        token = token_from_request(getattr(context, "query", {}), getattr(context, "headers", {}))
        if token is None:
            logger.info("connection without a token rejected")
            return None
        return self.verify(token)

    def _sign(self, encoded_payload: str) -> str:
        digest = hmac.new(self._secret, encoded_payload.encode("ascii", "replace"), hashlib.sha256)
        return _b64encode(digest.digest())


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

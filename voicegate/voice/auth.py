"""Authentication of voice connections: the ``AuthCallback`` contract and ``auth_context``.

Every transport calls :func:`authenticate` with its connection context (the
:class:`~voicegate.voice.http.HttpRequest` of the upgrade or the offer) before it
accepts anything, then runs its session factory through :func:`run_with_auth_context`
so the factory can read the metadata with ``auth_context.get()``. The metadata also
decides the rooms the connection may join (``voicegate.voice.access``). The shipped
callback is :class:`~voicegate.voice.tokens.TokenAuth`.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

AuthCallback = Callable[[Any], Awaitable[dict[str, Any] | None]]
"""Async callback for transport authentication: metadata dict to accept, ``None`` to reject."""

auth_context: ContextVar[dict[str, Any] | None] = ContextVar("auth_context", default=None)
"""Auth metadata of the current connection, set before the session factory runs."""

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

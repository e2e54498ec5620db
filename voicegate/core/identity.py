"""Identity: who sent an inbound message, and what hooks decide when that is unclear."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from voicegate.core.hooks import HookFilter, HookOrigin, HookTrigger, require_async
from voicegate.core.models import (
    InboundMessage,
    RoomContext,
    RoomEvent,
)


class IdentificationStatus(StrEnum):
    """How sure the resolver is about the sender."""

    IDENTIFIED = "identified"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class IdentityResult:
    """The resolver's answer: one participant, several candidates, or nobody."""

    status: IdentificationStatus = IdentificationStatus.UNKNOWN
    participant_id: str | None = None
    candidates: list[str] = field(default_factory=list)
    address: str | None = None


@dataclass(slots=True, frozen=True)
class IdentityHookResult:
    """An identity hook's decision: resolve to a participant or reject the message.

    A hook returning None leaves the decision to the next hook (or the sender unidentified).
    """

    action: Literal["resolve", "reject"]
    participant_id: str | None = None
    reason: str | None = None

    @classmethod
    def resolved(cls, participant_id: str) -> IdentityHookResult:
        """The sender is ``participant_id``."""
        return cls("resolve", participant_id=participant_id)

    @classmethod
    def reject(cls, reason: str = "identity_rejected") -> IdentityHookResult:
        """Drop the message (stored nowhere); ``reason`` is returned to the caller."""
        return cls("reject", reason=reason)


class IdentityResolver(ABC):
    """Finds the participant behind an inbound message."""

    @abstractmethod
    async def resolve(self, message: InboundMessage, context: RoomContext) -> IdentityResult:
        """Identify ``message``'s sender."""


IdentityHookFn = Callable[
    [RoomEvent, RoomContext, IdentityResult], Awaitable[IdentityHookResult | None]
]


@dataclass(slots=True)
class IdentityHook:
    """A registered identity hook with its filters."""

    trigger: HookTrigger
    fn: IdentityHookFn
    filter: HookFilter = field(default_factory=HookFilter)

    def __post_init__(self) -> None:
        require_async(self.fn)
        if self.trigger not in IDENTITY_TRIGGERS.values():
            raise ValueError(
                f"identity hooks take ON_IDENTITY_AMBIGUOUS/UNKNOWN, not {self.trigger}"
            )

    def matches(self, origin: HookOrigin) -> bool:
        """Whether the filter admits a message from ``origin``."""
        return self.filter.matches(origin)


IDENTITY_TRIGGERS = {
    IdentificationStatus.AMBIGUOUS: HookTrigger.ON_IDENTITY_AMBIGUOUS,
    IdentificationStatus.UNKNOWN: HookTrigger.ON_IDENTITY_UNKNOWN,
}


async def apply_identity_hooks(
    hooks: list[IdentityHook],
    result: IdentityResult,
    event: RoomEvent,
    context: RoomContext,
    origin: HookOrigin,
) -> IdentityHookResult | None:
    """Run the hooks for ``result``'s status; the first decisive answer wins."""
    trigger = IDENTITY_TRIGGERS.get(result.status)
    for hook in hooks:
        if hook.trigger is trigger and hook.matches(origin):
            decision = await hook.fn(event, context, result)
            if decision is not None:
                return decision
    return None

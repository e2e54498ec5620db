"""The ``RoomKit`` methods that register hooks and framework event handlers."""

from __future__ import annotations

from collections.abc import Callable

from voicegate.core.framework import FrameworkEmitter, FrameworkHandler
from voicegate.core.hooks import (
    HookEngine,
    HookExecution,
    HookFilter,
    HookFn,
    HookRegistration,
    HookTrigger,
)
from voicegate.core.identity import IdentityHookFn
from voicegate.core.inbound import InboundProcessor
from voicegate.core.models import ChannelDirection, ChannelType


class KitHooks:
    """Hook registration for ``RoomKit``: global and per-room hooks, identity hooks and
    framework event handlers."""

    _hooks: HookEngine
    _framework: FrameworkEmitter
    _inbound: InboundProcessor

    def hook(
        self,
        trigger: HookTrigger,
        execution: HookExecution = HookExecution.SYNC,
        priority: int = 0,
        name: str = "",
        timeout: float = 30.0,
        channel_types: set[ChannelType] | None = None,
        channel_ids: set[str] | None = None,
        directions: set[ChannelDirection] | None = None,
    ) -> Callable[[HookFn], HookFn]:
        """Decorator registering a global hook ``async def fn(payload, context)``."""

        hook_filter = HookFilter.of(channel_types, channel_ids, directions)
        return self._hooks.decorator(trigger, execution, priority, name, timeout, hook_filter)

    def on(self, event_type: str) -> Callable[[FrameworkHandler], FrameworkHandler]:
        """Decorator registering a framework event handler ``async def fn(event)``."""
        return self._framework.on(event_type)

    def identity_hook(
        self,
        trigger: HookTrigger,
        channel_types: set[ChannelType] | None = None,
        channel_ids: set[str] | None = None,
        directions: set[ChannelDirection] | None = None,
    ) -> Callable[[IdentityHookFn], IdentityHookFn]:
        """Decorator registering ``async def fn(event, context, id_result)``.

        The function returns an IdentityHookResult, or None to leave the decision to others.
        """
        return self._inbound.identity_hook(
            trigger, HookFilter.of(channel_types, channel_ids, directions)
        )

    def add_room_hook(
        self,
        room_id: str,
        trigger: HookTrigger,
        execution: HookExecution,
        fn: HookFn,
        priority: int = 0,
        name: str = "",
    ) -> None:
        """Add a hook that runs only for ``room_id``."""
        self._hooks.add_room_hook(
            room_id,
            HookRegistration(trigger, fn, execution, priority, name or fn.__name__),
        )

    def remove_room_hook(self, room_id: str, name: str) -> bool:
        """Remove a room hook by name; True if one was removed."""
        return self._hooks.remove_room_hook(room_id, name)

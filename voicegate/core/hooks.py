"""Hooks: user functions the engine runs at fixed points (triggers) of an event's life.

A hook is ``async def fn(payload, context) -> HookResult | None``. For room-event triggers the
payload is the :class:`~voicegate.core.models.RoomEvent` and the context a
:class:`~voicegate.core.models.RoomContext`; voice triggers pass their own payload and context.
SYNC hooks run one after another in priority order (lower first) and may block or modify the
payload; ASYNC hooks are fired and forgotten.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from voicegate.core.framework import FrameworkEmitter
from voicegate.core.models import ChannelDirection, ChannelType

logger = logging.getLogger(__name__)

T = TypeVar("T")


class HookTrigger(StrEnum):
    """When a hook fires."""

    BEFORE_BROADCAST = "before_broadcast"
    AFTER_BROADCAST = "after_broadcast"
    ON_IDENTITY_AMBIGUOUS = "on_identity_ambiguous"
    ON_IDENTITY_UNKNOWN = "on_identity_unknown"
    ON_TASK_COMPLETED = "on_task_completed"
    ON_ROOM_CREATED = "on_room_created"
    ON_ROOM_CLOSED = "on_room_closed"
    ON_CHANNEL_ATTACHED = "on_channel_attached"
    ON_CHANNEL_DETACHED = "on_channel_detached"
    ON_ERROR = "on_error"
    ON_SESSION_STARTED = "on_session_started"
    ON_SESSION_ENDED = "on_session_ended"
    ON_SPEECH_START = "on_speech_start"
    ON_SPEECH_END = "on_speech_end"
    ON_TRANSCRIPTION = "on_transcription"
    ON_PARTIAL_TRANSCRIPTION = "on_partial_transcription"
    BEFORE_TTS = "before_tts"
    AFTER_TTS = "after_tts"
    ON_BARGE_IN = "on_barge_in"
    ON_DTMF = "on_dtmf"


class HookExecution(StrEnum):
    """SYNC hooks can block or modify; ASYNC hooks are fire-and-forget."""

    SYNC = "sync"
    ASYNC = "async"


@dataclass(slots=True, frozen=True)
class HookResult:
    """What a SYNC hook decided."""

    action: Literal["allow", "block", "modify"]
    event: Any = None
    reason: str | None = None

    @classmethod
    def allow(cls) -> HookResult:
        """Let the payload through unchanged."""
        return cls("allow")

    @classmethod
    def block(cls, reason: str) -> HookResult:
        """Stop the payload; ``reason`` is logged and reported."""
        return cls("block", reason=reason)

    @classmethod
    def modify(cls, event: Any) -> HookResult:
        """Replace the payload with ``event`` for the later hooks and the engine."""
        return cls("modify", event=event)


HookFn = Callable[[Any, Any], Awaitable[HookResult | None]]


@dataclass(slots=True, frozen=True)
class HookOrigin:
    """The channel a hooked payload comes from, which the hook filters match against."""

    channel_id: str
    channel_type: ChannelType
    direction: ChannelDirection


@dataclass(slots=True, frozen=True)
class HookFilter:
    """The origins a hook runs for: every filter that is set must match (None: no filter)."""

    channel_types: frozenset[ChannelType] | None = None
    channel_ids: frozenset[str] | None = None
    directions: frozenset[ChannelDirection] | None = None

    @classmethod
    def of(
        cls,
        channel_types: Iterable[ChannelType] | None = None,
        channel_ids: Iterable[str] | None = None,
        directions: Iterable[ChannelDirection] | None = None,
    ) -> HookFilter:
        """A filter from any iterables (None stays None)."""
        return cls(
            frozenset(channel_types) if channel_types is not None else None,
            frozenset(channel_ids) if channel_ids is not None else None,
            frozenset(directions) if directions is not None else None,
        )

    def matches(self, origin: HookOrigin | None) -> bool:
        """Whether a payload from ``origin`` passes (a filtered hook needs an origin)."""
        if self.channel_types is None and self.channel_ids is None and self.directions is None:
            return True
        return origin is not None and (
            (self.channel_types is None or origin.channel_type in self.channel_types)
            and (self.channel_ids is None or origin.channel_id in self.channel_ids)
            and (self.directions is None or origin.direction in self.directions)
        )


def require_async(fn: object) -> None:
    """Refuse a hook that is not an ``async def`` function."""
    if not inspect.iscoroutinefunction(fn):
        name = getattr(fn, "__name__", fn)
        raise TypeError(f"hook {name!r} must be an async function")


@dataclass(slots=True)
class HookRegistration:
    """A registered hook and the filters that decide when it runs."""

    trigger: HookTrigger
    fn: HookFn
    execution: HookExecution = HookExecution.SYNC
    priority: int = 0
    name: str = ""
    timeout: float = 30.0
    filter: HookFilter = field(default_factory=HookFilter)

    def __post_init__(self) -> None:
        require_async(self.fn)

    def matches(self, origin: HookOrigin | None) -> bool:
        """Whether the filter admits a payload from ``origin``."""
        return self.filter.matches(origin)


@dataclass(slots=True)
class HookOutcome(Generic[T]):
    """The payload after the SYNC hooks, and whether one of them blocked it."""

    payload: T
    blocked: bool = False
    blocked_by: str | None = None
    reason: str | None = None


@dataclass(slots=True, frozen=True)
class HookFailure:
    """The payload of ON_ERROR hooks: which hook failed and how."""

    hook_name: str
    trigger: HookTrigger
    error: str
    room_id: str | None


class HookEngine:
    """Holds global and per-room hooks and runs them for a trigger."""

    def __init__(self, framework: FrameworkEmitter) -> None:
        self._framework = framework
        self._global: dict[HookTrigger, list[HookRegistration]] = {}
        self._rooms: dict[str, list[HookRegistration]] = {}
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def framework(self) -> FrameworkEmitter:
        """The emitter of framework events (``hook_error`` here; other layers emit theirs)."""
        return self._framework

    def register(self, hook: HookRegistration) -> None:
        """Add a global hook."""
        hooks = self._global.setdefault(hook.trigger, [])
        hooks.append(hook)
        hooks.sort(key=lambda h: h.priority)

    def decorator(
        self,
        trigger: HookTrigger,
        execution: HookExecution,
        priority: int,
        name: str,
        timeout: float,
        hook_filter: HookFilter,
    ) -> Callable[[HookFn], HookFn]:
        """A decorator registering the decorated function as a global hook (named after it)."""

        def register(fn: HookFn) -> HookFn:
            self.register(
                HookRegistration(
                    trigger,
                    fn,
                    execution,
                    priority,
                    name or fn.__name__,
                    timeout,
                    hook_filter,
                )
            )
            return fn

        return register

    def add_room_hook(self, room_id: str, hook: HookRegistration) -> None:
        """Add a hook that runs only for ``room_id``, beside the global ones."""
        self._rooms.setdefault(room_id, []).append(hook)

    def remove_room_hook(self, room_id: str, name: str) -> bool:
        """Remove ``room_id``'s hooks named ``name``; True if one was there."""
        hooks = self._rooms.get(room_id, [])
        kept = [h for h in hooks if h.name != name]
        self._rooms[room_id] = kept
        return len(kept) != len(hooks)

    def clear_room(self, room_id: str) -> None:
        """Forget every hook of ``room_id`` (the room was closed)."""
        self._rooms.pop(room_id, None)

    def _hooks(
        self, trigger: HookTrigger, room_id: str | None, execution: HookExecution
    ) -> list[HookRegistration]:
        hooks = self._global.get(trigger, [])
        room_hooks = self._rooms.get(room_id) if room_id is not None else None
        if room_hooks:
            hooks = sorted(
                hooks + [h for h in room_hooks if h.trigger is trigger], key=lambda h: h.priority
            )
        return [h for h in hooks if h.execution is execution]

    async def run_sync(
        self,
        trigger: HookTrigger,
        payload: T,
        context: Any,
        *,
        room_id: str | None = None,
        origin: HookOrigin | None = None,
        fail_closed: bool = False,
    ) -> HookOutcome[T]:
        """Run the SYNC hooks of ``trigger`` in priority order, each under its timeout.

        A hook that raises or times out is logged, reported (framework event ``hook_error``
        and ON_ERROR hooks) and counts as allow, or as block when ``fail_closed``.
        """
        outcome = HookOutcome(payload)
        if trigger not in self._global and room_id not in self._rooms:
            return outcome
        for hook in self._hooks(trigger, room_id, HookExecution.SYNC):
            if not hook.matches(origin):
                continue
            try:
                async with asyncio.timeout(hook.timeout):
                    result = await hook.fn(outcome.payload, context)
            except Exception as exc:
                await self._report(hook, exc, room_id, context)
                if fail_closed:
                    outcome.blocked, outcome.blocked_by = True, hook.name
                    outcome.reason = (
                        "hook_timeout" if isinstance(exc, TimeoutError) else "hook_error"
                    )
                    return outcome
                continue
            if result is None or result.action == "allow":
                continue
            if result.action == "block":
                outcome.blocked, outcome.blocked_by, outcome.reason = True, hook.name, result.reason
                return outcome
            outcome.payload = result.event
        return outcome

    def run_async(
        self,
        trigger: HookTrigger,
        payload: Any,
        context: Any,
        *,
        room_id: str | None = None,
        origin: HookOrigin | None = None,
    ) -> None:
        """Start the ASYNC hooks of ``trigger`` as tracked tasks; their failures are logged."""
        if trigger not in self._global and room_id not in self._rooms:
            return
        for hook in self._hooks(trigger, room_id, HookExecution.ASYNC):
            if hook.matches(origin):
                task = asyncio.create_task(self._run_detached(hook, payload, context, room_id))
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    async def run_all(
        self,
        trigger: HookTrigger,
        payload: Any,
        context: Any,
        room_id: str | None,
        *,
        origin: HookOrigin | None = None,
    ) -> None:
        """Run the SYNC hooks of a notification trigger (results ignored), then fire the ASYNC."""
        await self.run_sync(trigger, payload, context, room_id=room_id, origin=origin)
        self.run_async(trigger, payload, context, room_id=room_id, origin=origin)

    async def _run_detached(
        self, hook: HookRegistration, payload: Any, context: Any, room_id: str | None
    ) -> None:
        try:
            async with asyncio.timeout(hook.timeout):
                await hook.fn(payload, context)
        except Exception as exc:
            await self._report(hook, exc, room_id, context)

    async def _report(
        self, hook: HookRegistration, exc: Exception, room_id: str | None, context: Any
    ) -> None:
        error = "timed out" if isinstance(exc, TimeoutError) else repr(exc)
        logger.error("hook %r on %s failed: %s", hook.name, hook.trigger, error, exc_info=exc)
        await self._framework.emit(
            "hook_error",
            room_id=room_id,
            data={"hook": hook.name, "trigger": str(hook.trigger), "error": error},
        )
        if hook.trigger is not HookTrigger.ON_ERROR:
            failure = HookFailure(hook.name, hook.trigger, error, room_id)
            await self.run_all(HookTrigger.ON_ERROR, failure, context, room_id)

    async def close(self) -> None:
        """Wait for the ASYNC hooks still running."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

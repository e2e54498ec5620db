"""Inbound processing: rate limit, routing and identity before the event pipeline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from voicegate.core.channels import Channel
from voicegate.core.framework import FrameworkEmitter
from voicegate.core.hooks import HookFilter, HookTrigger
from voicegate.core.identity import (
    IdentificationStatus,
    IdentityHook,
    IdentityHookFn,
    IdentityResolver,
    IdentityResult,
    apply_identity_hooks,
)
from voicegate.core.models import (
    ChannelType,
    EventSource,
    EventStatus,
    InboundMessage,
    InboundResult,
    RoomContext,
    RoomEvent,
    RoomStatus,
)
from voicegate.core.pipeline import EventPipeline
from voicegate.core.ratelimit import RateLimiter
from voicegate.core.rooms import RoomDirectory
from voicegate.core.router import InboundRoomRouter
from voicegate.core.store import ConversationStore
from voicegate.errors import ProcessTimeoutError, RoomClosedError

OpenRoom = Callable[[str], Awaitable[str]]


class InboundProcessor:
    """Turns an :class:`InboundMessage` into a committed room event (or a refusal)."""

    def __init__(
        self,
        *,
        store: ConversationStore,
        rooms: RoomDirectory,
        pipeline: EventPipeline,
        router: InboundRoomRouter,
        framework: FrameworkEmitter,
        open_room: OpenRoom,
        rate_limiter: RateLimiter | None,
        identity_resolver: IdentityResolver | None,
        identity_channel_types: set[ChannelType] | None,
        identity_timeout: float,
    ) -> None:
        if identity_timeout <= 0:
            raise ValueError(f"identity_timeout must be positive, got {identity_timeout}")
        self._store = store
        self._rooms = rooms
        self._pipeline = pipeline
        self._router = router
        self._framework = framework
        self._open_room = open_room
        self._rate_limiter = rate_limiter
        self._resolver = identity_resolver
        self._identity_types = identity_channel_types
        self._identity_timeout = identity_timeout
        self.identity_hooks: list[IdentityHook] = []

    def identity_hook(
        self,
        trigger: HookTrigger,
        hook_filter: HookFilter,
    ) -> Callable[[IdentityHookFn], IdentityHookFn]:
        """A decorator registering the decorated function as an identity hook."""

        def register(fn: IdentityHookFn) -> IdentityHookFn:
            self.identity_hooks.append(IdentityHook(trigger, fn, hook_filter))
            return fn

        return register

    async def process(self, message: InboundMessage, room_id: str | None = None) -> InboundResult:
        """Rate-limit, route, identify and commit ``message``."""
        channel = self._rooms.channel(message.channel_id)
        if self._rate_limiter is not None and not self._rate_limiter.allow(channel.channel_id):
            return InboundResult(blocked=True, reason="rate_limited")
        if room_id is None:
            room_id = await self._router.route(message, self._store)
            if room_id is None:
                room_id = await self._open_room(channel.channel_id)
        state = await self._rooms.get(room_id)
        if state.room.status is not RoomStatus.ACTIVE:
            raise RoomClosedError(f"room {room_id!r} is closed")
        event = RoomEvent(
            room_id=room_id,
            source=EventSource(channel.channel_id, channel.channel_type, message.sender_id),
            content=message.content,
            type=message.event_type,
            metadata=dict(message.metadata),
        )
        resolver = self._resolver
        if resolver is not None and (
            self._identity_types is None or channel.channel_type in self._identity_types
        ):
            refusal = await self._identify(resolver, message, event, channel, state.context)
            if refusal is not None:
                return refusal
        try:
            committed = await self._pipeline.process(event, channel)
        except ProcessTimeoutError:
            return InboundResult(blocked=True, reason="process_timeout")
        blocked = committed.status is EventStatus.BLOCKED
        return InboundResult(committed, blocked, committed.blocked_by if blocked else None)

    async def _identify(
        self,
        resolver: IdentityResolver,
        message: InboundMessage,
        event: RoomEvent,
        channel: Channel,
        context: RoomContext,
    ) -> InboundResult | None:
        """Set the event's participant from the resolver and identity hooks; a refusal or None."""
        try:
            async with asyncio.timeout(self._identity_timeout):
                result = await resolver.resolve(message, context)
        except TimeoutError:
            result = IdentityResult(IdentificationStatus.UNKNOWN, address=message.sender_id)
            await self._framework.emit(
                "identity_timeout",
                room_id=event.room_id,
                channel_id=channel.channel_id,
                data={"sender_id": message.sender_id, "timeout": self._identity_timeout},
            )
        event.metadata["sender_id"] = message.sender_id
        event.source.participant_id = result.participant_id
        if result.status is IdentificationStatus.IDENTIFIED:
            return None
        decision = await apply_identity_hooks(
            self.identity_hooks, result, event, context, channel.origin
        )
        if decision is None:
            return None
        if decision.action == "reject":
            return InboundResult(blocked=True, reason=decision.reason)
        event.source.participant_id = decision.participant_id
        return None

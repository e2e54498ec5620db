"""RoomKit: the thin facade over the room engine's parts (same API as RoomKit 0.109).

``BackgroundTaskDeliveryStrategy`` is here because it receives the ``RoomKit``.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from functools import partial
from typing import Any, Self

from voicegate.core.answers import AnswerRelay
from voicegate.core.channels import (
    Channel,
    SendFn,
    StreamSendFn,
    WebSocketConnection,
)
from voicegate.core.framework import FrameworkEmitter
from voicegate.core.hooks import HookEngine, HookTrigger
from voicegate.core.identity import IdentityResolver
from voicegate.core.inbound import InboundProcessor
from voicegate.core.kit_hooks import KitHooks
from voicegate.core.kit_reads import KitReads
from voicegate.core.kit_realtime import KitRealtime
from voicegate.core.locks import InMemoryLockManager, RoomLockManager
from voicegate.core.models import (
    ChannelBinding,
    ChannelType,
    EventSource,
    EventType,
    InboundMessage,
    InboundResult,
    Room,
    RoomEvent,
    Task,
    new_id,
)
from voicegate.core.pipeline import EventPipeline
from voicegate.core.ratelimit import RateLimit, RateLimiter
from voicegate.core.realtime import InMemoryRealtime, RealtimeBackend
from voicegate.core.rooms import RoomDirectory
from voicegate.core.router import DefaultInboundRoomRouter, InboundRoomRouter
from voicegate.core.store import ConversationStore, InMemoryStore
from voicegate.core.tasks import InMemoryTaskRunner, TaskDelegator, TaskRunner, TaskWork
from voicegate.core.telemetry import TelemetryConfig, TelemetryProvider, resolve_telemetry

logger = logging.getLogger(__name__)


class BackgroundTaskDeliveryStrategy(ABC):
    """Delivers a finished task's result into its room (e.g. as a message)."""

    @abstractmethod
    async def deliver(self, kit: RoomKit, task: Task) -> None:
        """Called after the task is stored and ON_TASK_COMPLETED hooks ran."""


class RoomKit(KitHooks, KitReads, KitRealtime):
    """Central orchestrator tying rooms, channels, hooks and storage together.

    Hook registration (:class:`KitHooks`), history reads (:class:`KitReads`) and ephemeral
    events (:class:`KitRealtime`) are mixed in from their own modules."""

    def __init__(
        self,
        store: ConversationStore | None = None,
        identity_resolver: IdentityResolver | None = None,
        identity_channel_types: set[ChannelType] | None = None,
        inbound_router: InboundRoomRouter | None = None,
        lock_manager: RoomLockManager | None = None,
        realtime: RealtimeBackend | None = None,
        max_chain_depth: int = 5,
        identity_timeout: float = 10.0,
        process_timeout: float = 30.0,
        stt: Any = None,
        tts: Any = None,
        voice: Any = None,
        task_runner: TaskRunner | None = None,
        delivery_strategy: BackgroundTaskDeliveryStrategy | None = None,
        telemetry: TelemetryConfig | TelemetryProvider | None = None,
        inbound_rate_limit: RateLimit | None = None,
    ) -> None:
        self._store = store if store is not None else InMemoryStore()
        self._framework = FrameworkEmitter()
        self._hooks = HookEngine(self._framework)
        self._locks = lock_manager if lock_manager is not None else InMemoryLockManager()
        self._realtime = realtime if realtime is not None else InMemoryRealtime()
        self._tasks = task_runner if task_runner is not None else InMemoryTaskRunner()
        self._delivery_strategy = delivery_strategy
        self._telemetry = resolve_telemetry(telemetry)
        self._stt, self._tts, self._voice = stt, tts, voice
        self._rooms = RoomDirectory(self._store)
        self._pipeline = EventPipeline(
            store=self._store,
            rooms=self._rooms,
            hooks=self._hooks,
            framework=self._framework,
            locks=self._locks,
            telemetry=self._telemetry,
            max_chain_depth=max_chain_depth,
            process_timeout=process_timeout,
            on_overflow=self._drop_member,
        )
        self._inbound = InboundProcessor(
            store=self._store,
            rooms=self._rooms,
            pipeline=self._pipeline,
            router=inbound_router if inbound_router is not None else DefaultInboundRoomRouter(),
            framework=self._framework,
            open_room=self._open_room_for,
            rate_limiter=RateLimiter(inbound_rate_limit) if inbound_rate_limit else None,
            identity_resolver=identity_resolver,
            identity_channel_types=identity_channel_types,
            identity_timeout=identity_timeout,
        )
        self._delegator = TaskDelegator(self._store, self._rooms, self._hooks, self._tasks)
        self._answer_relay: AnswerRelay | None = None
        self._closed = False

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _open(self) -> None:
        await self._store.open()

    async def close(self) -> None:
        """Stop tasks, hooks, realtime and channels, then close the store. Idempotent."""
        if self._closed:
            return
        self._closed = True
        await self._pipeline.close()
        await self._tasks.close()
        await self._hooks.close()
        await self._realtime.close()
        for channel in self._rooms.channels.values():
            await channel.close()
        await self._locks.close()
        await self._store.close()

    @property
    def store(self) -> ConversationStore:
        """The backing conversation store."""
        return self._store

    @property
    def hook_engine(self) -> HookEngine:
        """The hook engine used for sync/async hook pipelines."""
        return self._hooks

    @property
    def realtime(self) -> RealtimeBackend:
        """The realtime backend for ephemeral events."""
        return self._realtime

    @property
    def telemetry(self) -> TelemetryProvider:
        """Where spans and metrics go."""
        return self._telemetry

    @property
    def stt(self) -> Any:
        """The speech-to-text provider given to the constructor."""
        return self._stt

    @property
    def tts(self) -> Any:
        """The text-to-speech provider given to the constructor."""
        return self._tts

    @property
    def voice(self) -> Any:
        """The voice backend given to the constructor."""
        return self._voice

    async def create_room(
        self, room_id: str | None = None, metadata: dict[str, Any] | None = None
    ) -> Room:
        """Create and store a room."""
        await self._open()
        room = Room(room_id or new_id(), metadata=dict(metadata or {}))
        state = await self._rooms.create(room)
        await self._hooks.run_all(HookTrigger.ON_ROOM_CREATED, room, state.context, room.id)
        await self._framework.emit("room_created", room_id=room.id)
        return room

    async def get_room(self, room_id: str) -> Room:
        """The room ``room_id``, or RoomNotFoundError."""
        return (await self._rooms.get(room_id)).room

    async def close_room(self, room_id: str) -> Room:
        """Close a room: it accepts no more events and its room hooks are dropped."""
        room = await self._rooms.close(room_id)
        self._hooks.clear_room(room_id)
        await self._framework.emit("room_closed", room_id=room_id)
        return room

    def register_channel(self, channel: Channel) -> None:
        """Make ``channel`` known to the kit so rooms can attach it."""
        self._rooms.register(channel)

    def unregister_channel(self, channel_id: str) -> None:
        """Forget a channel that is attached to no room (per-session channels end this way)."""
        self._rooms.unregister(channel_id)

    async def attach_channel(self, room_id: str, channel_id: str) -> ChannelBinding:
        """Attach the registered channel ``channel_id`` to ``room_id``."""
        binding = await self._rooms.attach(room_id, channel_id)
        state = await self._rooms.get(room_id)
        await self._hooks.run_all(HookTrigger.ON_CHANNEL_ATTACHED, binding, state.context, room_id)
        await self._framework.emit("channel_attached", room_id=room_id, channel_id=channel_id)
        return binding

    async def detach_channel(self, room_id: str, channel_id: str) -> None:
        """Detach ``channel_id`` from ``room_id``."""
        await self._rooms.detach(room_id, channel_id)
        self._pipeline.forget_member(room_id, channel_id)
        state = await self._rooms.get(room_id)
        await self._hooks.run_all(
            HookTrigger.ON_CHANNEL_DETACHED, channel_id, state.context, room_id
        )
        await self._framework.emit("channel_detached", room_id=room_id, channel_id=channel_id)

    async def _drop_member(self, room_id: str, channel: Channel) -> None:
        """``channel`` fell too far behind in ``room_id``: detach it and tell it."""
        try:
            await self.detach_channel(room_id, channel.channel_id)
            data = {"reason": "too_slow"}
            await self._framework.emit(
                "channel_dropped", room_id=room_id, channel_id=channel.channel_id, data=data
            )
            await channel.on_dropped(room_id)
        except Exception:
            logger.exception("dropping channel %s from room %s failed", channel.channel_id, room_id)

    async def _open_room_for(self, channel_id: str) -> str:
        room = await self.create_room()
        await self.attach_channel(room.id, channel_id)
        return room.id

    async def send_event(
        self,
        room_id: str,
        channel_id: str,
        content: Any,
        event_type: EventType = EventType.MESSAGE,
        chain_depth: int = 0,
        participant_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        visibility: str = "all",
        provider: str | None = None,
        response_visibility: str | None = None,
    ) -> RoomEvent:
        """Send an event into a room from a channel attached to it; returns the committed event."""
        channel = await self._rooms.attached_channel(room_id, channel_id)
        event = RoomEvent(
            room_id,
            EventSource(channel_id, channel.channel_type, participant_id, provider),
            content,
            event_type,
            visibility=visibility,
            response_visibility=response_visibility,
            chain_depth=chain_depth,
            metadata=metadata if metadata is not None else {},
        )
        return await self._pipeline.process(event, channel)

    async def deliver_committed(self, event: RoomEvent) -> None:
        """Deliver ``event``, committed by another process sharing this kit's store, to the
        transports of this process attached to its room (what a cross-process fan-out calls)."""
        await self._pipeline.deliver_committed(event)

    def forget_room(self, room_id: str) -> None:
        """Read ``room_id``'s bindings and status from the store again at its next use
        (another process attached, detached or closed)."""
        self._rooms.forget(room_id)

    def relay_answers(self, relay: AnswerRelay | None) -> None:
        """Let :meth:`cancel_response` reach answers streaming in the other processes that
        share this kit's rooms (None: this process only)."""
        self._answer_relay = relay

    async def cancel_response(self, response_id: str) -> bool:
        """Stop an answer streaming in parts once its part in progress is committed (barge-in),
        in this process or, through the :meth:`relay_answers` relay, in another; returns when
        it has stopped, or False if it does not stream anywhere."""
        if await self._pipeline.cancel_response(response_id):
            return True
        relay = self._answer_relay
        return relay is not None and await relay.cancel_elsewhere(response_id)

    async def cancel_local_response(self, response_id: str) -> bool:
        """:meth:`cancel_response` in this process only (what an ``AnswerRelay`` calls when
        another process asks)."""
        return await self._pipeline.cancel_response(response_id)

    async def wait_answers(self, room_id: str | None = None) -> None:
        """Return once no answer streams in ``room_id`` (or in any room)."""
        await self._pipeline.wait_answers(room_id)

    async def wait_delivered(self, room_id: str | None = None) -> None:
        """Return once every channel took the events committed so far (in ``room_id``, or
        anywhere): ``send_event`` returns once its event is committed and queued for the
        room's channels, each of which takes its events in order, in the background."""
        await self._pipeline.wait_delivered(room_id)

    async def process_inbound(
        self, message: InboundMessage, room_id: str | None = None
    ) -> InboundResult:
        """Route, rate-limit, identify and commit an inbound message."""
        return await self._inbound.process(message, room_id)

    async def connect_websocket(
        self,
        channel_id: str,
        connection_id: str,
        send_fn: SendFn,
        *,
        stream_send_fn: StreamSendFn | None = None,
        room_id: str | None = None,
    ) -> None:
        """Register a connection on the WebSocketChannel ``channel_id``.

        ``stream_send_fn`` is accepted for RoomKit compatibility and never called:
        answers arrive as whole events (a streaming AIChannel sends one per sentence).
        """
        self._rooms.websocket(channel_id).add_connection(
            WebSocketConnection(connection_id, send_fn, room_id)
        )
        data = {"connection_id": connection_id}
        await self._framework.emit("websocket_connected", channel_id=channel_id, data=data)

    async def disconnect_websocket(self, channel_id: str, connection_id: str) -> None:
        """Unregister a connection; emits ``websocket_disconnected`` if it was there."""
        if self._rooms.websocket(channel_id).remove_connection(connection_id):
            data = {"connection_id": connection_id}
            await self._framework.emit("websocket_disconnected", channel_id=channel_id, data=data)

    async def delegate(
        self,
        room_id: str,
        name: str,
        work: TaskWork | Awaitable[Any],
        *,
        metadata: dict[str, Any] | None = None,
        delivery_strategy: BackgroundTaskDeliveryStrategy | None = None,
    ) -> Task:
        """Run ``work`` for ``room_id`` in the background; returns the stored pending task.

        At its end: stored, ON_TASK_COMPLETED, ``task_completed``, then the delivery strategy.
        """
        strategy = delivery_strategy or self._delivery_strategy
        deliver = None if strategy is None else partial(strategy.deliver, self)
        return await self._delegator.delegate(room_id, name, work, metadata, deliver)

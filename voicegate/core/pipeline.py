"""The event pipeline: the locked phase every event goes through, then the answers to it.

Locked phase (bounded by ``process_timeout``, lock wait included): chain-depth check,
BEFORE_BROADCAST hooks, commit to the store, the event queued for the other attached
transports the visibility admits and, for the source channel, the notice that it was
committed (:class:`MemberQueues`: each member takes them in commit order, outside the
lock), AFTER_BROADCAST hooks. Then, outside the lock, the source takes its notice
(``on_committed``) and intelligence channels answer; each part of an answer is a new
event one step deeper in the chain, tagged with the answer's ``response_id``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from voicegate.core.answers import AnswerStreams
from voicegate.core.channels import Channel, ChannelOutput
from voicegate.core.delivery import MemberQueues, Overflow
from voicegate.core.framework import FrameworkEmitter
from voicegate.core.hooks import HookEngine, HookTrigger
from voicegate.core.locks import RoomLockManager
from voicegate.core.models import (
    RECENT_EVENTS,
    ChannelCategory,
    ChannelDirection,
    EventSource,
    EventStatus,
    Observation,
    RoomContext,
    RoomEvent,
    RoomStatus,
    Visibility,
    new_id,
)
from voicegate.core.rooms import RoomDirectory
from voicegate.core.store import ConversationStore
from voicegate.core.telemetry import TelemetryProvider
from voicegate.errors import ProcessTimeoutError

logger = logging.getLogger(__name__)

CHAIN_DEPTH_LIMIT = "event_chain_depth_limit"

_YIELD_BACKLOG = 32
"""A member with this many events queued gets a turn before its sender commits another."""


@dataclass(slots=True)
class _Outcome:
    """What the locked phase leaves to do: the answers, the source's notice, the backlog."""

    committed: RoomEvent
    answering: list[Channel] = field(default_factory=list)
    reported: asyncio.Future[None] | None = None
    backlog: int = 0


def admits(visibility: str, channel: Channel) -> bool:
    """Whether an event of ``visibility`` may be delivered to ``channel``.

    ``all``; ``transport`` / ``intelligence`` (by category); ``none`` and ``internal``
    (nobody); otherwise a channel id or a comma-separated list of them.
    """
    if visibility == Visibility.ALL:
        return True
    if visibility in (Visibility.NONE, Visibility.INTERNAL):
        return False
    if visibility == Visibility.TRANSPORT:
        return channel.category is ChannelCategory.TRANSPORT
    if visibility == Visibility.INTELLIGENCE:
        return channel.category is ChannelCategory.INTELLIGENCE
    return channel.channel_id in {part.strip() for part in visibility.split(",")}


class EventPipeline:
    """Runs events through the locked phase and commits the answers of intelligence channels.

    A whole answer (a ``ChannelOutput``) is committed before :meth:`process` returns; an
    answer in parts streams in the background (:class:`AnswerStreams`) until it ends, is
    cancelled, or its room closes or its channel leaves the room. Deliveries go through
    :class:`MemberQueues` (``on_overflow`` drops a member that falls behind).
    """

    def __init__(
        self,
        *,
        store: ConversationStore,
        rooms: RoomDirectory,
        hooks: HookEngine,
        framework: FrameworkEmitter,
        locks: RoomLockManager,
        telemetry: TelemetryProvider,
        max_chain_depth: int,
        process_timeout: float,
        on_overflow: Overflow,
    ) -> None:
        if max_chain_depth <= 0:
            raise ValueError(f"max_chain_depth must be positive, got {max_chain_depth}")
        if process_timeout <= 0:
            raise ValueError(f"process_timeout must be positive, got {process_timeout}")
        self._store = store
        self._rooms = rooms
        self._hooks = hooks
        self._framework = framework
        self._locks = locks
        self._telemetry = telemetry
        self._max_chain_depth = max_chain_depth
        self._process_timeout = process_timeout
        self._answers = AnswerStreams()
        self._members = MemberQueues(on_overflow)

    async def cancel_response(self, response_id: str) -> bool:
        """Stop the answer ``response_id`` streaming; see :meth:`AnswerStreams.cancel`."""
        return await self._answers.cancel(response_id)

    async def wait_answers(self, room_id: str | None = None) -> None:
        """Return once no answer streams (in ``room_id``, or anywhere)."""
        await self._answers.wait(room_id)

    async def wait_delivered(self, room_id: str | None = None) -> None:
        """Return once every member took the events committed so far (in ``room_id``)."""
        await self._members.wait(room_id)

    def forget_member(self, room_id: str, channel_id: str) -> None:
        """``channel_id`` left ``room_id`` (see :meth:`MemberQueues.forget`)."""
        self._members.forget(room_id, channel_id)

    async def close(self) -> None:
        """Cancel the answers still streaming, then deliver what is queued."""
        await self._answers.close()
        await self._members.close()

    async def process(self, event: RoomEvent, channel: Channel) -> RoomEvent:
        """Commit ``event`` from ``channel`` and deliver it; returns the committed event.

        Raises ProcessTimeoutError when the locked phase runs past ``process_timeout``.
        """
        with self._telemetry.span("voicegate.process_event"):
            try:
                async with asyncio.timeout(self._process_timeout):
                    async with self._locks.locked(event.room_id):
                        outcome = await self._locked_phase(event, channel)
            except TimeoutError:
                raise ProcessTimeoutError(
                    f"processing event {event.id} in room {event.room_id!r} took longer than "
                    f"process_timeout={self._process_timeout}s"
                ) from None
        if outcome.reported is not None:
            await outcome.reported  # the source learns of its event before any answer
        elif outcome.backlog >= _YIELD_BACKLOG:
            await asyncio.sleep(0)  # a sender that never waits lets the deliveries run
        if outcome.answering:
            await self._collect_answers(outcome.committed, outcome.answering)
        return outcome.committed

    async def deliver_committed(self, event: RoomEvent) -> None:
        """Queue ``event``, committed by another process sharing the store, for this
        process's transports attached to its room (blocked events go nowhere)."""
        if event.status is not EventStatus.DELIVERED:
            return
        state = await self._rooms.get(event.room_id)
        transports, _ = self._targets(event, event.source.channel_id, state.bindings)
        for transport in transports:
            self._members.deliver(event.room_id, transport, event, state.context)

    async def _locked_phase(self, event: RoomEvent, channel: Channel) -> _Outcome:
        state = await self._rooms.get(event.room_id)
        context = state.context
        if event.chain_depth >= self._max_chain_depth:
            return _Outcome(await self._stop_chain(event))
        outcome = await self._hooks.run_sync(
            HookTrigger.BEFORE_BROADCAST,
            event,
            context,
            room_id=event.room_id,
            origin=channel.origin,
        )
        if outcome.blocked:
            return _Outcome(await self._block(event, outcome.blocked_by or "hook", outcome.reason))
        if isinstance(outcome.payload, RoomEvent):
            event = outcome.payload
        else:
            logger.error("a BEFORE_BROADCAST hook modified event %s into a non-event", event.id)
        event.status = EventStatus.DELIVERED
        committed = await self._store.add_event(event)
        self._hooks.run_async(
            HookTrigger.BEFORE_BROADCAST,
            committed,
            context,
            room_id=event.room_id,
            origin=channel.origin,
        )
        transports, answering = self._targets(committed, channel.channel_id, state.bindings)
        room_id = event.room_id
        backlog = 0
        for transport in transports:
            backlog = max(backlog, self._members.deliver(room_id, transport, committed, context))
        reported = None
        if type(channel).on_committed is not Channel.on_committed:  # only those that listen
            reported = self._members.report(room_id, channel, committed, context)
        await self._hooks.run_all(
            HookTrigger.AFTER_BROADCAST, committed, context, event.room_id, origin=channel.origin
        )
        return _Outcome(committed, answering, reported, backlog)

    def _targets(
        self, event: RoomEvent, source_id: str, bound: Iterable[str]
    ) -> tuple[list[Channel], list[Channel]]:
        transports: list[Channel] = []
        answering: list[Channel] = []
        channels = self._rooms.channels
        for channel_id in bound:
            channel = channels.get(channel_id)
            if (
                channel is None
                or channel_id == source_id
                or channel.direction is ChannelDirection.INBOUND
                or not admits(event.visibility, channel)
            ):
                continue
            if channel.category is ChannelCategory.INTELLIGENCE:
                answering.append(channel)
            else:
                transports.append(channel)
        return transports, answering

    async def _stop_chain(self, event: RoomEvent) -> RoomEvent:
        committed = await self._block(event, CHAIN_DEPTH_LIMIT, None, emit=False)
        await self._store.add_observation(
            Observation(
                event.room_id,
                "chain_depth_exceeded",
                {"event_id": committed.id, "chain_depth": event.chain_depth},
            )
        )
        await self._framework.emit(
            "chain_depth_exceeded",
            room_id=event.room_id,
            channel_id=event.source.channel_id,
            event_id=committed.id,
            data={"chain_depth": event.chain_depth, "max_chain_depth": self._max_chain_depth},
        )
        return committed

    async def _block(
        self, event: RoomEvent, blocked_by: str, reason: str | None, *, emit: bool = True
    ) -> RoomEvent:
        event.status, event.blocked_by = EventStatus.BLOCKED, blocked_by
        committed = await self._store.add_event(event)
        if emit:
            await self._framework.emit(
                "event_blocked",
                room_id=event.room_id,
                channel_id=event.source.channel_id,
                event_id=committed.id,
                data={"blocked_by": blocked_by, "reason": reason},
            )
        return committed

    async def _collect_answers(self, event: RoomEvent, answering: list[Channel]) -> None:
        state = await self._rooms.get(event.room_id)
        count = min(RECENT_EVENTS, event.index + 1)
        recent = await self._store.list_events(event.room_id, event.index + 1 - count, count)
        context = RoomContext(state.room, state.context.bindings, recent)
        if len(answering) == 1:
            await self._answer(answering[0], event, context)
        else:
            await asyncio.gather(*(self._answer(c, event, context) for c in answering))

    async def _answer(self, channel: Channel, event: RoomEvent, context: RoomContext) -> None:
        try:
            answer = await channel.on_event(event, context)
            if answer is None:
                return
            response_id = new_id()

            async def commit(output: ChannelOutput, part: int) -> bool:
                return await self._commit_part(channel, event, response_id, output, part)

            if isinstance(answer, ChannelOutput):
                await commit(answer, 0)
                return
        except Exception:
            logger.exception("channel %s failed to answer event %s", channel.channel_id, event.id)
            return
        self._answers.start(
            response_id,
            event.room_id,
            channel.channel_id,
            answer,
            commit,
            replace=channel.cancel_previous_answer,
        )

    async def _commit_part(
        self,
        channel: Channel,
        answered: RoomEvent,
        response_id: str,
        output: ChannelOutput,
        part: int,
    ) -> bool:
        """Send part ``part`` of ``channel``'s answer to ``answered``; False if the room
        closed or the channel left it."""
        state = await self._rooms.get(answered.room_id)
        if state.room.status is not RoomStatus.ACTIVE or channel.channel_id not in state.bindings:
            logger.info(
                "answer %s of %s dropped: the room %s closed or the channel left it",
                response_id,
                channel.channel_id,
                answered.room_id,
            )
            return False
        await self.process(
            RoomEvent(
                room_id=answered.room_id,
                source=EventSource(channel.channel_id, channel.channel_type),
                content=output.content,
                type=output.event_type,
                visibility=answered.response_visibility or Visibility.ALL,
                chain_depth=answered.chain_depth + 1,
                metadata={**output.metadata, "responds_to": answered.id, "part": part},
                response_id=response_id,
            ),
            channel,
        )
        return True

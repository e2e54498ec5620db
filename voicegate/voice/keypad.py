"""A session's key presses (DTMF), carried into its room as ``dtmf`` room events."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from voicegate.core.hooks import HookOrigin, HookTrigger
from voicegate.core.models import EventType, InboundMessage, TextContent
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.session import VoiceSession

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)


class Keypad:
    """Carries one session's key presses into its room, in the order they were pressed.

    Each press passes the ON_DTMF hooks: SYNC hooks run first and may block it (it then
    never reaches the room; a failing hook blocks too) or modify it; ASYNC hooks are then
    fired. The press becomes a room event of type ``dtmf`` whose text is the digit, with
    ``metadata["dtmf"]`` holding its duration and source. Presses are queued, so the
    transport that reports them never waits for the room.
    """

    def __init__(self, session: VoiceSession, kit: RoomKit, origin: HookOrigin) -> None:
        self._session = session
        self._kit = kit
        self._origin = origin
        self._pressed: asyncio.Queue[DTMFDigit] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    def press(self, key: DTMFDigit) -> None:
        """Queue ``key`` for the room."""
        self._pressed.put_nowait(key)
        if self._worker is None:
            self._worker = asyncio.create_task(self._deliver(), name=f"dtmf-{self._session.id}")

    async def close(self) -> None:
        """Drop the presses not yet delivered."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _deliver(self) -> None:
        while True:
            key = await self._pressed.get()
            try:
                await self._enter(key)
            except Exception:
                logger.exception("session %s: a key press failed", self._session.id)

    async def _enter(self, key: DTMFDigit) -> None:
        session, hooks = self._session, self._kit.hook_engine
        outcome = await hooks.run_sync(
            HookTrigger.ON_DTMF,
            key,
            session,
            room_id=session.room_id,
            origin=self._origin,
            fail_closed=True,
        )
        if outcome.blocked:
            logger.info("session %s: key blocked by %s", session.id, outcome.blocked_by)
            return
        pressed: DTMFDigit = outcome.payload
        hooks.run_async(
            HookTrigger.ON_DTMF, pressed, session, room_id=session.room_id, origin=self._origin
        )
        details = {"session_id": session.id, "duration_ms": pressed.duration_ms}
        await self._kit.process_inbound(
            InboundMessage(
                channel_id=session.channel_id,
                sender_id=session.participant_id,
                content=TextContent(pressed.digit),
                event_type=EventType.DTMF,
                metadata={"dtmf": {**details, "source": pressed.source}},
            ),
            room_id=session.room_id,
        )

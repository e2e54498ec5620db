"""The rooms a gateway's sessions use: entered as a session's grant allows, or made, and
closed when the gateway made them and their last caller left."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING

from voicegate.core.framework import FrameworkEvent
from voicegate.core.models import ChannelType, RoomStatus
from voicegate.voice.access import GATEWAY_ROOM, RoomGrant
from voicegate.voice.backend import SessionRequest
from voicegate.voice.session import VoiceSession

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)


class SessionRooms:
    """Finds or makes the room of each session (``voice/access.py`` decides which it may
    enter), with the ``responder`` attached, and closes a room the gateway made (metadata
    ``voice: True``) once no session of ``sessions`` (the gateway's open ones), no session
    on its way in and no caller of another process uses it."""

    def __init__(
        self, kit: RoomKit, responder_id: str, sessions: Mapping[str, VoiceSession]
    ) -> None:
        self._kit = kit
        self._responder_id = responder_id
        self._sessions = sessions
        self._joining: Counter[str] = Counter()  # sessions on their way into a room, by room
        kit.on("channel_detached")(self._channel_left)

    async def enter(self, request: SessionRequest) -> str:
        """The room the session joins, as its auth metadata grants; raises what
        :class:`RoomGrant` raises (a missing room, one it may not enter)."""
        joining = request.room_id
        if joining is not None:
            self._joining[joining] += 1
        try:
            grant = RoomGrant.from_metadata(request.metadata)
            if request.room_id is None:
                room = await self._kit.create_room(metadata=grant.new_room_metadata())
            else:
                room = await grant.enter(self._kit, request.room_id)
            bindings = await self._kit.store.list_bindings(room.id)
            if all(b.channel_id != self._responder_id for b in bindings):
                await self._kit.attach_channel(room.id, self._responder_id)
            return room.id
        finally:
            if joining is not None:
                self._joining[joining] -= 1
                if not self._joining[joining]:
                    del self._joining[joining]

    async def bound_channels(self, room_id: str) -> set[str]:
        """The ids of the channels bound to ``room_id`` (none if the store fails: logged)."""
        try:
            return {binding.channel_id for binding in await self._kit.store.list_bindings(room_id)}
        except Exception:
            logger.exception("listing the channels of room %s failed", room_id)
            return set()

    async def close_if_emptied(self, room_id: str) -> None:
        """Close ``room_id`` if the gateway made it and no session uses it any more.

        The check and the close's first step (marking the cached room closed) run with no
        ``await`` between them, so a session on its way in either keeps the room open or
        finds it closed. Callers of the room on other processes sharing the store keep it
        open: their voice channels are still bound to it."""
        bindings = await self._kit.store.list_bindings(room_id)
        if any(binding.channel_type is ChannelType.VOICE for binding in bindings):
            return
        room = await self._kit.get_room(room_id)
        if (
            room.status is RoomStatus.ACTIVE
            and room.metadata.get(GATEWAY_ROOM) is True
            and room_id not in self._joining
            and all(s.room_id != room_id for s in self._sessions.values())
        ):
            await self._kit.close_room(room_id)
            logger.debug("room %s closed: its last session left", room_id)

    async def _channel_left(self, event: FrameworkEvent) -> None:
        """A channel that is none of the gateway's sessions left a room (the caller of a
        dead process, removed by a survivor): close the room if no caller is left."""
        room_id, channel_id = event.room_id, event.channel_id
        if room_id is None or any(s.channel_id == channel_id for s in self._sessions.values()):
            return
        await self.close_if_emptied(room_id)

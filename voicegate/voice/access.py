"""Which rooms a connection may enter, decided by its auth metadata.

The :data:`~voicegate.voice.auth.AuthCallback` that accepts a connection decides its rooms
with two metadata keys (:class:`~voicegate.voice.tokens.TokenAuth` sets both from its token):

- ``rooms``: the ids of existing rooms the connection may join, as a list, or ``"*"`` for
  every room. Absent, ``None`` or anything else: no existing room.
- ``owner``: a string naming whose rooms the connection's new rooms are. A room a session
  creates is recorded with it (room metadata ``owner``), and any connection with the same
  ``owner`` may join that room later. Absent: new rooms belong to nobody.

Any accepted connection may create a new room (``room_id`` null). A room that is neither
listed nor owned is refused with 4403 (WebRTC: 403) whether it exists or not, so a refusal
tells nothing about other people's rooms; 4404 (404) is only for a room the connection may
enter that does not exist or is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicegate.core.models import Room, RoomStatus
from voicegate.errors import RoomKitError, RoomNotFoundError

if TYPE_CHECKING:
    from voicegate.core.kit import RoomKit

logger = logging.getLogger(__name__)

ROOMS_KEY = "rooms"
"""Auth metadata key: the existing rooms a connection may join (a list, or ``"*"``)."""

OWNER_KEY = "owner"
"""Auth metadata key (and room metadata key): whose the rooms a connection creates are."""

ANY_ROOM = "*"
"""The ``rooms`` value that lets a connection join every room."""

GATEWAY_ROOM = "voice"
"""Room metadata key (True) of the rooms made for sessions that ask for no room: each
closes when its last session leaves."""


class RoomAccessDeniedError(RoomKitError):
    """The connection may not join the room it asked for."""


@dataclass(frozen=True, slots=True)
class RoomGrant:
    """The rooms one connection may join: ``rooms`` listed (``None``: any), and its ``owner``."""

    rooms: frozenset[str] | None
    owner: str | None = None

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> RoomGrant:
        """The grant that auth ``metadata`` carries (see the module docstring)."""
        listed = metadata.get(ROOMS_KEY)
        owner = metadata.get(OWNER_KEY)
        if not (owner is None or (isinstance(owner, str) and owner)):
            logger.warning("auth metadata %r is not a string; its rooms are nobody's", OWNER_KEY)
            owner = None
        if listed == ANY_ROOM:
            return cls(None, owner)
        if listed is None:
            return cls(frozenset(), owner)
        if isinstance(listed, list | tuple | set | frozenset) and all(
            isinstance(room_id, str) for room_id in listed
        ):
            return cls(frozenset(listed), owner)
        logger.warning(
            "auth metadata %r must be a list of room ids or %r; no existing room is granted",
            ROOMS_KEY,
            ANY_ROOM,
        )
        return cls(frozenset(), owner)

    def new_room_metadata(self) -> dict[str, Any]:
        """The metadata of a room this connection creates: voice, and its owner if any."""
        metadata: dict[str, Any] = {GATEWAY_ROOM: True}
        if self.owner is not None:
            metadata[OWNER_KEY] = self.owner
        return metadata

    async def enter(self, kit: RoomKit, room_id: str) -> Room:
        """The open room ``room_id`` if this grant lets the connection join it.

        Raises :class:`RoomAccessDeniedError` for a room neither listed nor owned (existing
        or not) and :class:`~voicegate.errors.RoomNotFoundError` for a room the grant
        covers that does not exist or is closed.
        """
        listed = self.rooms is None or room_id in self.rooms
        try:
            room = await kit.get_room(room_id)
        except RoomNotFoundError:
            if listed:
                raise
            raise RoomAccessDeniedError(f"room {room_id!r} is not granted") from None
        if not (listed or self._owns(room)):
            raise RoomAccessDeniedError(f"room {room_id!r} is not granted")
        if room.status is RoomStatus.CLOSED:
            raise RoomNotFoundError(f"room {room_id!r} is closed")
        return room

    def covers(self, room_id: str, owner: str | None) -> bool:
        """Whether this grant reaches room ``room_id``, owned by ``owner``, open or closed."""
        listed = self.rooms is None or room_id in self.rooms
        return listed or (self.owner is not None and owner == self.owner)

    def _owns(self, room: Room) -> bool:
        return self.owner is not None and room.metadata.get(OWNER_KEY) == self.owner

"""Shared fixtures of the room-engine tests: a kit on the real InMemoryStore and test channels."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from voicegate import (
    Channel,
    ChannelCategory,
    ChannelOutput,
    ChannelType,
    RoomContext,
    RoomEvent,
    RoomKit,
    TextContent,
)


class RecordingChannel(Channel):
    """A transport that remembers what it was given."""

    channel_type = ChannelType.SMS

    def __init__(self, channel_id: str) -> None:
        super().__init__(channel_id)
        self.delivered: list[RoomEvent] = []

    async def deliver(self, event: RoomEvent, context: RoomContext) -> None:
        self.delivered.append(event)


class EchoAI(Channel):
    """An intelligence channel answering every text event with ``<id>: <body>``."""

    channel_type = ChannelType.AI
    category = ChannelCategory.INTELLIGENCE

    def __init__(self, channel_id: str) -> None:
        super().__init__(channel_id)
        self.seen: list[RoomEvent] = []

    async def on_event(self, event: RoomEvent, context: RoomContext) -> ChannelOutput | None:
        self.seen.append(event)
        assert isinstance(event.content, TextContent)
        return ChannelOutput(TextContent(body=f"{self.channel_id}: {event.content.body}"))


@pytest.fixture
async def kit() -> AsyncIterator[RoomKit]:
    async with RoomKit() as room_kit:
        yield room_kit

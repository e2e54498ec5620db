"""The echo responder: answers every caller transcript with the same words."""

from __future__ import annotations

from voicegate.core.channels import Channel, ChannelOutput
from voicegate.core.models import (
    ChannelCategory,
    ChannelType,
    EventType,
    RoomContext,
    RoomEvent,
    TextContent,
)

SPOKEN_KEYS = {"*": "star", "#": "pound"}
"""How the echo says the DTMF keys that are not digits or letters."""


class EchoResponder(Channel):
    """An intelligence channel that speaks back what it heard.

    It answers text messages from voice channels only, so it never answers itself or
    another intelligence channel; a key the caller pressed (a ``dtmf`` event) it answers
    with "You pressed 5.". The answer is whole (one part); the engine gives it its
    ``response_id`` and ``responds_to``. It is the default responder of ``voicegate serve``:
    with it a microphone test or a latency benchmark needs no language model.
    """

    channel_type = ChannelType.AI
    category = ChannelCategory.INTELLIGENCE

    def __init__(self, channel_id: str = "echo") -> None:
        super().__init__(channel_id)

    async def on_event(self, event: RoomEvent, context: RoomContext) -> ChannelOutput | None:
        """The transcript's own words, for a message from a voice channel."""
        if event.source.channel_type is not ChannelType.VOICE:
            return None
        if not isinstance(event.content, TextContent) or not event.content.body.strip():
            return None
        body = event.content.body
        if event.type is EventType.DTMF:
            return ChannelOutput(TextContent(f"You pressed {SPOKEN_KEYS.get(body, body)}."))
        if event.type is not EventType.MESSAGE:
            return None
        return ChannelOutput(TextContent(body))

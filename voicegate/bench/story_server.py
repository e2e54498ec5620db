"""``python -m voicegate.bench.story_server [serve's flags] [--log-level debug]``:
``voicegate serve`` whose responder answers a request for a story with the same long story
(and echoes anything else), so that an evaluation can talk over an answer (acknowledge it,
interrupt it, echo it). Its log shows voicegate's records at ``--log-level`` (info)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from voicegate.core.channels import Channel, ChannelOutput
from voicegate.core.models import (
    ChannelCategory,
    ChannelType,
    RoomContext,
    RoomEvent,
    TextContent,
)
from voicegate.server.app import serve
from voicegate.server.config import add_arguments, load_config

STORY = (
    "Once upon a time there was a lighthouse keeper who lived alone on a rocky island. "
    "Every night he climbed the long stairs and lit the great lamp for the passing ships. "
    "One stormy evening a small boat drifted towards the rocks with its sails torn. "
    "He rowed out into the waves and brought the frightened sailors safely home."
)


class Storyteller(Channel):
    """Answers a voice message asking for a story with :data:`STORY`, any other with an
    echo of its words."""

    channel_type = ChannelType.AI
    category = ChannelCategory.INTELLIGENCE

    def __init__(self) -> None:
        super().__init__("storyteller")

    async def on_event(self, event: RoomEvent, context: RoomContext) -> ChannelOutput | None:
        if event.source.channel_type is not ChannelType.VOICE or not isinstance(
            event.content, TextContent
        ):
            return None
        heard = event.content.body
        return ChannelOutput(TextContent(STORY if "story" in heard.lower() else heard))


def main(argv: list[str]) -> int:
    """Serve with the storyteller until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m voicegate.bench.story_server")
    add_arguments(parser)
    parser.add_argument("--log-level", choices=("debug", "info", "warning"), default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("voicegate").setLevel(args.log_level.upper())
    asyncio.run(serve(load_config(args), Storyteller()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

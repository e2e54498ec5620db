"""The kit's lifecycle, constructor, framework events, websockets and read markers."""

from __future__ import annotations

import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from tests.core.conftest import RecordingChannel
from voicegate import (
    ChannelAlreadyRegisteredError,
    ChannelNotFoundError,
    FrameworkEvent,
    InMemoryStore,
    RoomEvent,
    RoomKit,
    RoomNotFoundError,
    TextContent,
    WebSocketChannel,
)

SEED = Path("/work/shared/seed/roomkit-api-reference.txt")


@pytest.mark.skipif(not SEED.exists(), reason="the seed API reference is not on this machine")
def test_constructor_matches_the_seed() -> None:
    line = next(ln for ln in SEED.read_text().splitlines() if ln.startswith("RoomKit("))
    seed = dict(re.findall(r"(\w+)=([^,)]+)", line))
    ours = {n: p.default for n, p in inspect.signature(RoomKit).parameters.items()}
    assert list(ours) == list(seed)
    assert {n: repr(v) for n, v in ours.items()} == seed


async def test_framework_events_and_websocket_delivery() -> None:
    seen: list[str] = []
    async with RoomKit() as kit:
        for name in (
            "room_created",
            "channel_attached",
            "channel_detached",
            "websocket_connected",
            "websocket_disconnected",
        ):
            kit.on(name)(_recorder(seen))

        @kit.on("room_created")
        async def broken(event: FrameworkEvent) -> None:
            raise RuntimeError("handler bug stays contained")

        ws = WebSocketChannel("ws")
        kit.register_channel(ws)
        kit.register_channel(RecordingChannel("sms"))
        room = await kit.create_room(metadata={"topic": "t"})
        other = await kit.create_room()
        for room_id in (room.id, other.id):
            await kit.attach_channel(room_id, "ws")
            await kit.attach_channel(room_id, "sms")
        sent: list[tuple[str, str]] = []

        async def send(connection_id: str, event: RoomEvent) -> None:
            sent.append((connection_id, event.room_id))

        await kit.connect_websocket("ws", "c-all", send)
        await kit.connect_websocket("ws", "c-room", send, room_id=room.id)
        await kit.send_event(room.id, "sms", TextContent(body="1"))
        await kit.send_event(other.id, "sms", TextContent(body="2"))
        await kit.wait_delivered()  # deliveries run in the background, in order
        await kit.disconnect_websocket("ws", "c-all")
        await kit.send_event(room.id, "sms", TextContent(body="3"))
        await kit.wait_delivered()
        await kit.detach_channel(room.id, "ws")
        with pytest.raises(ChannelNotFoundError):
            await kit.detach_channel(room.id, "ws")
    assert sorted(sent) == sorted(
        [("c-all", room.id), ("c-room", room.id), ("c-all", other.id), ("c-room", room.id)]
    )
    assert seen.count("room_created") == 2
    assert seen.count("channel_attached") == 4
    assert seen[-3:] == ["websocket_connected", "websocket_disconnected", "channel_detached"]


async def test_read_markers(kit: RoomKit) -> None:
    kit.register_channel(RecordingChannel("a"))
    room = await kit.create_room()
    await kit.attach_channel(room.id, "a")
    events = [await kit.send_event(room.id, "a", TextContent(body=str(i))) for i in range(3)]
    assert await kit.get_unread_count(room.id, "b") == 3
    await kit.mark_read(room.id, "b", events[0].id)
    assert await kit.get_unread_count(room.id, "b") == 2
    await kit.mark_all_read(room.id, "b")
    assert await kit.get_unread_count(room.id, "b") == 0


async def test_rooms_and_registration_errors(kit: RoomKit) -> None:
    room = await kit.create_room("fixed", {"k": "v"})
    assert (await kit.get_room("fixed")).metadata == {"k": "v"}
    assert room.id == "fixed"
    with pytest.raises(RoomNotFoundError):
        await kit.get_room("missing")
    kit.register_channel(channel := RecordingChannel("a"))
    kit.register_channel(channel)
    with pytest.raises(ChannelAlreadyRegisteredError):
        kit.register_channel(RecordingChannel("a"))
    with pytest.raises(ValueError, match="max_chain_depth"):
        RoomKit(max_chain_depth=0)


async def test_close_stops_everything_and_is_idempotent() -> None:
    store = InMemoryStore()
    kit = RoomKit(store=store, stt="stt", tts="tts", voice="voice")
    assert (kit.store, kit.stt, kit.tts, kit.voice) == (store, "stt", "tts", "voice")
    room = await kit.create_room()
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.sleep(100)

    await kit.delegate(room.id, "forever", forever)
    await kit.subscribe_room(room.id, _noop)
    await started.wait()
    await kit.close()
    await kit.close()
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


def _recorder(seen: list[str]) -> Any:
    async def record(event: FrameworkEvent) -> None:
        seen.append(event.type)

    return record


async def _noop(event: Any) -> None:
    return None

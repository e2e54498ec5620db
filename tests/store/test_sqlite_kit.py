"""The SQLite store under the real engine: a room's history survives a restart of the kit."""

from __future__ import annotations

from pathlib import Path

from voicegate import RoomKit, TextContent, WebSocketChannel
from voicegate.store.sqlite import SQLiteStore


async def test_timeline_and_read_markers_survive_a_kit_restart(tmp_path: Path) -> None:
    path = tmp_path / "rooms.db"
    async with RoomKit(store=SQLiteStore(path)) as kit:
        kit.register_channel(WebSocketChannel("ws"))
        kit.register_channel(WebSocketChannel("other"))
        room = await kit.create_room(room_id="r1")
        await kit.attach_channel(room.id, "ws")
        await kit.attach_channel(room.id, "other")
        sent = [await kit.send_event(room.id, "ws", TextContent(body=f"m{i}")) for i in range(3)]
        await kit.mark_read(room.id, "other", sent[1].id)

    async with RoomKit(store=SQLiteStore(path)) as kit:
        timeline = await kit.get_timeline("r1")
        assert [e.id for e in timeline] == [e.id for e in sent]
        assert [e.content for e in timeline] == [TextContent(body=f"m{i}") for i in range(3)]
        assert await kit.get_unread_count("r1", "other") == 1

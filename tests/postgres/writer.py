"""One writer process of the multi-process test: its own RoomKit on a shared database.

    python writer.py DSN REDIS_URL ROOM_ID CHANNEL_ID COUNT TOTAL

Attaches ``CHANNEL_ID`` to the existing room, prints ``ready``, waits for a
``go`` line on stdin and sends ``COUNT`` events (halfway it waits until another
writer's event is in the room), then reads the room's timeline until it holds
``TOTAL`` events (every writer's) and prints it as one JSON line:
``{"sent": [event ids], "timeline": [[event id, index, channel id], ...]}``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from voicegate import RoomEvent, RoomKit, TextContent, WebSocketChannel
from voicegate.redis import RedisLockManager
from voicegate.store.postgres import PostgresStore

DEADLINE_S = 60.0


async def wait_for_events(kit: RoomKit, room_id: str, count: int) -> list[RoomEvent]:
    """The room's timeline once it holds at least ``count`` events."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while len(timeline := await kit.get_timeline(room_id, limit=count)) < count:
        if loop.time() > deadline:
            raise SystemExit(f"only {len(timeline)} of {count} events after {DEADLINE_S} s")
        await asyncio.sleep(0.02)
    return timeline


async def main(
    dsn: str, redis_url: str, room_id: str, channel_id: str, count: int, total: int
) -> None:
    kit = RoomKit(store=PostgresStore(dsn), lock_manager=RedisLockManager(redis_url))
    async with kit:
        kit.register_channel(WebSocketChannel(channel_id))
        await kit.attach_channel(room_id, channel_id)
        print("ready", flush=True)
        if (await asyncio.to_thread(sys.stdin.readline)).strip() != "go":
            raise SystemExit("expected 'go' on stdin")
        sent: list[str] = []
        for i in range(count):
            if i == count // 2:  # halfway, wait for the other writer: the two must interleave
                await wait_for_events(kit, room_id, i + 1)
            event = await kit.send_event(room_id, channel_id, TextContent(body=f"{channel_id} {i}"))
            sent.append(event.id)
        timeline = await wait_for_events(kit, room_id, total)
    rows = [[e.id, e.index, e.source.channel_id] for e in timeline]
    print(json.dumps({"sent": sent, "timeline": rows}), flush=True)


if __name__ == "__main__":
    dsn, redis_url, room_id, channel_id, count, total = sys.argv[1:]
    asyncio.run(main(dsn, redis_url, room_id, channel_id, int(count), int(total)))

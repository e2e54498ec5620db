"""InMemoryRealtime and the kit's publish/subscribe API."""

from __future__ import annotations

import asyncio

import pytest

from voicegate import EphemeralEvent, EphemeralEventType, InMemoryRealtime, RoomKit


async def test_kit_publish_reaches_subscribers_and_unsubscribe_is_once(kit: RoomKit) -> None:
    got: list[EphemeralEvent] = []
    done = asyncio.Event()

    async def callback(event: EphemeralEvent) -> None:
        got.append(event)
        if len(got) == 5:
            done.set()

    sub = await kit.subscribe_room("r", callback)
    await kit.publish_typing("r", "u", data={"name": "U"})
    await kit.publish_typing("r", "u", is_typing=False)
    await kit.publish_presence("r", "u", "away")
    await kit.publish_read_receipt("r", "u", "e1")
    await kit.realtime.publish(EphemeralEvent("r", EphemeralEventType.CUSTOM, "u"))
    await kit.publish_typing("other-room", "u")
    await asyncio.wait_for(done.wait(), 2)
    assert [e.type for e in got] == [
        EphemeralEventType.TYPING_START,
        EphemeralEventType.TYPING_STOP,
        EphemeralEventType.PRESENCE_AWAY,
        EphemeralEventType.READ_RECEIPT,
        EphemeralEventType.CUSTOM,
    ]
    assert got[3].data == {"event_id": "e1"}
    assert await kit.unsubscribe_room(sub) is True
    assert await kit.unsubscribe_room(sub) is False
    with pytest.raises(ValueError, match="presence status"):
        await kit.publish_presence("r", "u", "busy")


async def test_full_queue_drops_oldest() -> None:
    realtime = InMemoryRealtime(queue_size=2)
    got: list[str] = []
    gate = asyncio.Event()

    async def slow(event: EphemeralEvent) -> None:
        await gate.wait()
        got.append(event.user_id)

    await realtime.subscribe("r", slow)
    await realtime.publish(EphemeralEvent("r", EphemeralEventType.CUSTOM, "0"))
    await asyncio.sleep(0)
    for user in "1234":
        await realtime.publish(EphemeralEvent("r", EphemeralEventType.CUSTOM, user))
    gate.set()
    for _ in range(20):
        await asyncio.sleep(0.005)
    assert got == ["0", "3", "4"]
    await realtime.close()


async def test_failing_callback_harms_no_other_subscriber() -> None:
    realtime = InMemoryRealtime()
    got: list[str] = []
    done = asyncio.Event()

    async def broken(event: EphemeralEvent) -> None:
        raise RuntimeError("subscriber bug")

    async def fine(event: EphemeralEvent) -> None:
        got.append(event.user_id)
        if len(got) == 2:
            done.set()

    await realtime.subscribe("r", broken)
    await realtime.subscribe("r", fine)
    await realtime.publish(EphemeralEvent("r", EphemeralEventType.CUSTOM, "a"))
    await realtime.publish(EphemeralEvent("r", EphemeralEventType.CUSTOM, "b"))
    await asyncio.wait_for(done.wait(), 2)
    assert got == ["a", "b"]
    await realtime.close()

"""Voice sessions on a store whose disk is full: a documented error, no stall, and recovery."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.store.small_disk import SmallDiskStore, fill_up
from voicegate import RoomKit
from voicegate.core.models import TextContent
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import EmbeddedServer
from voicegate.testing import ScriptedSTT, voice_harness
from voicegate.testing.harness import VoiceHarness
from voicegate.voice.notices import FinalTranscript, RoomEventNotice, SessionError

HANG_GUARD_S = 60.0
"""How long a step may take before the test calls it a hang (not a timing)."""


def health(port: int) -> tuple[int, dict[str, Any]]:
    """GET /healthz (blocking: run it in a thread)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[tuple[VoiceHarness, SmallDiskStore, int]]:
    store = SmallDiskStore(tmp_path / "voice.db", spare_pages=40)
    kit = RoomKit(store=store)
    stt = ScriptedSTT(["hello there", "is anyone there", "now it works"])
    async with (
        asyncio.timeout(HANG_GUARD_S),
        kit,
        voice_harness(stt, kit=kit) as running,
        EmbeddedServer(create_voice_app(running.gateway), "127.0.0.1", 0) as server,
    ):
        yield running, store, server.port


async def test_a_full_disk_costs_a_turn_an_error_not_the_server(
    harness: tuple[VoiceHarness, SmallDiskStore, int],
) -> None:
    running, store, port = harness
    async with running.call() as caller:
        await caller.say(speech_ms=600, silence_ms=400)
        first = await caller.transport.wait_for(FinalTranscript)
        assert first.event_id is not None
        status, body = await asyncio.to_thread(health, port)
        assert (status, body["status"], body["accepting"]) == (200, "ok", True)

        await fill_up(store)
        await caller.say(speech_ms=600, silence_ms=400)
        error = await caller.transport.wait_for(SessionError)
        assert error.code == "store_unavailable"
        lost = await caller.transport.wait_for(FinalTranscript, 2)
        assert (lost.text, lost.event_id) == ("is anyone there", None)
        status, body = await asyncio.to_thread(health, port)
        assert (status, body["status"]) == (503, "unhealthy")
        assert "full" in body["store_error"]
        with pytest.raises(ConnectionRefusedError, match=r"TRY_AGAIN_LATER.*store_unavailable"):
            async with running.call():
                pass

        await store.free_space()
        await caller.say(speech_ms=600, silence_ms=400)
        stored = await caller.transport.wait_for(FinalTranscript, 3)
        assert (stored.text, stored.event_id is not None) == ("now it works", True)
        await caller.transport.wait_until(
            lambda: any(
                n.event.response_id and "now it works" in str(n.event.content)
                for n in caller.transport.of_type(RoomEventNotice)
            ),
            "the echo of the stored turn",
        )
        status, body = await asyncio.to_thread(health, port)
        assert (status, body["status"]) == (200, "ok")
    timeline = await running.kit.get_timeline(caller.room_id, limit=100)
    bodies = [e.content.body for e in timeline if isinstance(e.content, TextContent)]
    assert "is anyone there" not in bodies
    assert bodies.count("now it works") == 2  # the transcript and its echo


async def test_a_session_ends_cleanly_on_a_full_disk(
    harness: tuple[VoiceHarness, SmallDiskStore, int],
) -> None:
    running, store, _ = harness
    async with running.call() as caller:
        await fill_up(store)
        await caller.say(speech_ms=600, silence_ms=400)
        await caller.transport.wait_for(SessionError)
    # it left while every write failed: nothing of it is held any more
    assert running.gateway.sessions == {}
    assert running.gateway.admission.taken == 0
    await store.free_space()
    async with running.call() as again:
        await again.say(speech_ms=600, silence_ms=400)
        final = await again.transport.wait_for(FinalTranscript)
        assert final.event_id is not None

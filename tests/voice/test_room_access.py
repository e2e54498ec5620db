"""Who may enter a room: the grant in the auth metadata, the attack from issue 9, renewal.

The attack: with any valid token and a victim's ``room_id``, an attacker used to join the
victim's room and hear every event in it. Now a token names the rooms it may join; a
room that is neither named nor the token's own is refused with 4403 (WebRTC: 403),
whether it exists or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.request
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.voice.conftest import (
    Gateway,
    close_code,
    fatal_error,
    running_gateway,
    speech,
    spoken_turn,
    voice_client,
)
from voicegate import RoomKit
from voicegate.bench.webrtc_client import OfferRejectedError, WebRTCVoiceClient
from voicegate.errors import RoomNotFoundError
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.access import RoomAccessDeniedError, RoomGrant

SENTENCE = "Please turn on the kitchen lights."


@pytest.mark.parametrize(
    ("metadata", "rooms", "owner"),
    [
        ({}, frozenset(), None),
        ({"rooms": None}, frozenset(), None),
        ({"rooms": ["a", "b"], "owner": "o1"}, frozenset({"a", "b"}), "o1"),
        ({"rooms": ("a",)}, frozenset({"a"}), None),
        ({"rooms": "*"}, None, None),
        ({"rooms": "a"}, frozenset(), None),  # one string is not a list of ids
        ({"rooms": [1, 2]}, frozenset(), None),
        ({"rooms": {"a": 1}}, frozenset(), None),
        ({"rooms": True, "owner": 7}, frozenset(), None),
        ({"owner": ""}, frozenset(), None),
    ],
)
def test_the_grant_is_read_from_metadata_and_anything_unexpected_grants_nothing(
    metadata: dict[str, Any], rooms: frozenset[str] | None, owner: str | None
) -> None:
    assert RoomGrant.from_metadata(metadata) == RoomGrant(rooms, owner)


async def test_a_grant_enters_listed_and_owned_rooms_only() -> None:
    async with RoomKit() as kit:
        owned = await kit.create_room(metadata=RoomGrant(frozenset(), "alice").new_room_metadata())
        other = await kit.create_room(metadata={"voice": True, "owner": "bob"})
        closed = await kit.create_room()
        await kit.close_room(closed.id)
        alice = RoomGrant(frozenset({other.id, closed.id, "gone"}), "alice")
        assert (await alice.enter(kit, owned.id)).id == owned.id
        assert (await alice.enter(kit, other.id)).id == other.id
        with pytest.raises(RoomNotFoundError):
            await alice.enter(kit, closed.id)
        with pytest.raises(RoomNotFoundError):
            await alice.enter(kit, "gone")
        stranger = RoomGrant(frozenset(), "mallory")
        for room_id in (owned.id, other.id, closed.id, "gone"):  # existing or not: the same
            with pytest.raises(RoomAccessDeniedError):
                await stranger.enter(kit, room_id)
        with pytest.raises(RoomAccessDeniedError):
            await RoomGrant(frozenset(), None).enter(kit, owned.id)
        assert (await RoomGrant(None).enter(kit, other.id)).id == other.id


async def _overhear(gw: Gateway, token: str, room_id: str) -> tuple[tuple[int, str], list[Any]]:
    """Join ``room_id`` with ``token``: how the server closed, and everything received."""
    received: list[Any] = []
    async with connect(f"{gw.ws_url}?token={token}") as ws:
        await ws.send(json.dumps({"type": "hello", "sample_rate": 16000, "room_id": room_id}))
        with contextlib.suppress(ConnectionClosed):
            async with asyncio.timeout(10):
                async for message in ws:
                    received.append(message)
        return await close_code(ws), received


@pytest.mark.models
async def test_the_attack_from_the_issue_fails_with_4403_and_403(
    stt: FasterWhisperSTT, tts: PiperTTS, caplog: pytest.LogCaptureFixture
) -> None:
    async with (
        running_gateway(stt, tts, webrtc=True) as gw,
        voice_client(f"{gw.ws_url}?token={gw.auth.issue('alice')}") as alice,
    ):
        room_id = alice.ready["room_id"]
        await alice.say(spoken_turn(await speech(tts, SENTENCE)))
        await alice.wait_for("tts_end")
        mallory = gw.auth.issue("mallory")  # valid, for no room of alice's
        with caplog.at_level(logging.INFO, logger="voicegate.voice.gateway"):
            closed, received = await _overhear(gw, mallory, room_id)
        assert closed == (4403, "room_forbidden")
        # not even ready: nothing of the room reached mallory, only why she was refused
        assert [json.loads(message) for message in received] == [fatal_error("room_forbidden")]
        assert any(f"room {room_id!r} is not granted" in r.getMessage() for r in caplog.records)
        assert (await _overhear(gw, mallory, "no-such-room"))[0] == (4403, "room_forbidden")
        with pytest.raises(OfferRejectedError) as rejected:
            async with WebRTCVoiceClient(gw.http_url, mallory, room_id=room_id):
                pass
        assert (rejected.value.status, rejected.value.error) == (403, "forbidden")
        assert [room.id for room in await gw.kit.store.list_rooms()] == [room_id]
        assert len(gw.gateway.sessions) == 1
        await alice.say(spoken_turn(await speech(tts, SENTENCE)))
        await alice.wait_for("tts_end", count=2)  # alice never noticed


@pytest.mark.models
async def test_a_token_rejoins_its_own_room_and_a_renewed_token_does_too(
    stt: FasterWhisperSTT, tts: PiperTTS
) -> None:
    async with running_gateway(stt, tts) as gw:
        token = gw.auth.issue("alice")
        # the first session stays: a room made for a session closes when its last one leaves
        async with voice_client(f"{gw.ws_url}?token={token}") as first:
            room_id = first.ready["room_id"]
            async with voice_client(f"{gw.ws_url}?token={token}", {"room_id": room_id}) as again:
                assert again.ready["room_id"] == room_id
            renewed = await asyncio.to_thread(_renew, gw, token)
            assert renewed["token"] != token
            url = f"{gw.ws_url}?token={renewed['token']}"
            async with voice_client(url, {"room_id": room_id}) as after_renewal:
                assert after_renewal.ready["room_id"] == room_id
            admin = gw.auth.issue("admin", any_room=True)
            async with voice_client(f"{gw.ws_url}?token={admin}", {"room_id": room_id}) as anyone:
                assert anyone.ready["room_id"] == room_id


def _renew(gw: Gateway, token: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{gw.http_url}/token/renew", b"", {"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer

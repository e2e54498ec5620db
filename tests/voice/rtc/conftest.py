"""The ``call`` fixture: a real aiortc client connected over loopback to the answering side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCSessionDescription

from tests.voice.rtc.peers import Call, ToneTrack, offer_sdp, wait_connected
from voicegate.voice.rtc import PacedAudioTrack, answer_offer, create_peer_connection


@pytest.fixture
async def call() -> AsyncIterator[Call]:
    """A client sending a 440 Hz tone, connected over loopback to an answering server peer."""
    client = create_peer_connection()
    client.addTrack(ToneTrack())
    to_client = PacedAudioTrack()
    server = await answer_offer(await offer_sdp(client), to_client)
    try:
        await client.setRemoteDescription(
            RTCSessionDescription(sdp=server.answer_sdp, type="answer")
        )
        async with asyncio.timeout(10):
            await wait_connected(client, server.connection)
        inbound = next(t for t in client.getTransceivers() if t.kind == "audio").receiver.track
        yield Call(client, server, to_client, inbound)
    finally:
        await client.close()
        await server.connection.close()

"""Two real aiortc peers on loopback: an offering client and voicegate's answering side."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc import AudioStreamTrack, MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from voicegate.voice.rtc import AnsweredPeer, PacedAudioTrack, answer_offer, create_peer_connection

TONE_HZ = 440.0
TONE_AMPLITUDE = 0.25
TONE_DBFS = 20 * np.log10(TONE_AMPLITUDE / np.sqrt(2))
TONE_RATE = 48_000
TONE_FRAME_SAMPLES = TONE_RATE // 50


class ToneTrack(AudioStreamTrack):
    """A continuous 48 kHz stereo sine, paced by aiortc's own ``AudioStreamTrack``.

    Stereo like a browser's Opus, so aiortc's encoder sends it unchanged (it would upmix mono
    with a -3 dB pan law).
    """

    def __init__(self) -> None:
        super().__init__()
        self._sent = 0

    async def recv(self) -> av.AudioFrame:
        await super().recv()
        t = (self._sent + np.arange(TONE_FRAME_SAMPLES)) / TONE_RATE
        mono = np.rint(TONE_AMPLITUDE * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = TONE_RATE
        frame.pts = self._sent
        frame.time_base = Fraction(1, TONE_RATE)
        self._sent += TONE_FRAME_SAMPLES
        return frame


@dataclass
class Call:
    """A connected client/server pair."""

    client: RTCPeerConnection
    server: AnsweredPeer
    to_client: PacedAudioTrack
    client_inbound: MediaStreamTrack


async def offer_sdp(client: RTCPeerConnection) -> str:
    """Create and apply the client's offer; return its SDP (candidates included)."""
    await client.setLocalDescription(await client.createOffer())
    return client.localDescription.sdp


async def wait_connected(*peers: RTCPeerConnection) -> None:
    """Wait until every peer's connection state is ``connected``."""
    while any(peer.connectionState != "connected" for peer in peers):
        states = {peer.connectionState for peer in peers}
        assert not states & {"failed", "closed"}, states
        await asyncio.sleep(0.02)


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

"""Helpers for two real aiortc peers on loopback: a client playing a tone, the answering side."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from aiortc import AudioStreamTrack, MediaStreamTrack, RTCPeerConnection

from voicegate.voice.rtc import AnsweredPeer, PacedAudioTrack, create_peer_connection

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


async def client_offer(direction: str = "sendrecv", *, data_channel: bool = False) -> str:
    """A real aiortc offer with one audio section in ``direction`` (and the data channel)."""
    client = create_peer_connection()
    try:
        if direction == "sendrecv":
            client.addTrack(ToneTrack())
        else:
            client.addTransceiver("audio", direction=direction)
        if data_channel:
            client.createDataChannel("voicegate")
        return await offer_sdp(client)
    finally:
        await client.close()

"""RTP that waits in a socket is read in one go, on voicegate's side of a call and on the
benchmark's phone: asyncio's datagram transport read one packet per event-loop iteration,
so on a busy loop (other calls, the models' callbacks) a call's audio fell behind real time
and the benchmark stamped answer audio late."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

from tests.telephony.peers import free_port
from voicegate.audio.g711 import ULAW
from voicegate.bench.sip_client import SIPPhone
from voicegate.telephony.media import RTPMedia
from voicegate.telephony.rtp import RTPPacket
from voicegate.telephony.sdp import AudioStream, MediaChoice

PACKETS = 50
SSRC = 0x5EE5


def _iteration_counter() -> tuple[Callable[[], int], Callable[[], None]]:
    """Counts the event loop's iterations from now: (how many so far, stop)."""
    loop = asyncio.get_running_loop()
    count, counting = 0, True

    def tick() -> None:
        nonlocal count
        count += 1
        if counting:
            loop.call_soon(tick)

    def stop() -> None:
        nonlocal counting
        counting = False

    loop.call_soon(tick)
    return lambda: count, stop


def _send_at_once(port: int, source: socket.socket) -> None:
    """:data:`PACKETS` packets of a second of µ-law, all in the socket before the loop runs."""
    for sequence in range(PACKETS):
        packet = RTPPacket(0, sequence, 160 * sequence, SSRC, bytes(160))
        source.sendto(packet.to_bytes(), ("127.0.0.1", port))


async def test_the_calls_queued_rtp_is_read_in_one_go() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.bind(("127.0.0.1", 0))
        low = free_port()
        media = RTPMedia("127.0.0.1", (low, low + 40))
        await media.open()
        offer = AudioStream("127.0.0.1", peer.getsockname()[1], (0,))
        media.configure(offer, MediaChoice(ULAW, 0, None))
        try:
            _send_at_once(media.port, peer)
            iterations, stop = _iteration_counter()
            frames = media.frames()
            async with asyncio.timeout(10):
                for _ in range(PACKETS):
                    await anext(frames)
            stop()
            assert iterations() < 5, f"{PACKETS} queued packets took {iterations()} iterations"
        finally:
            await media.close()


async def test_the_phone_stamps_queued_rtp_when_it_arrived() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        phone = SIPPhone("127.0.0.1", server.getsockname()[1])
        await phone.listen()
        try:
            sent = time.monotonic()
            _send_at_once(phone.rtp_port, server)
            iterations, stop = _iteration_counter()
            async with asyncio.timeout(10):
                while len(phone.heard) < PACKETS:  # noqa: ASYNC110 (the phone records)
                    await asyncio.sleep(0)
            stop()
            assert iterations() < 5, f"{PACKETS} queued packets took {iterations()} iterations"
            assert all(packet.arrived >= sent for packet in phone.heard)
        finally:
            await phone.close()

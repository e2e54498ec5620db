"""A call's audio over RTP: G.711 both ways, RFC 4733 telephone events in, and RTCP reports
both ways on the next port (or multiplexed on the RTP port)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable

import numpy as np

from voicegate.audio.frame import AudioFrame
from voicegate.errors import RoomKitError
from voicegate.telephony.dtmf import EventReceiver
from voicegate.telephony.pacing import PacedOutput
from voicegate.telephony.rtcp import MUX_TYPES
from voicegate.telephony.rtcp_session import RTCPSession
from voicegate.telephony.rtp import JitterBuffer, RTPError, RTPPacket, RTPSender
from voicegate.telephony.sdp import CLOCK_RATE, AudioStream, MediaChoice
from voicegate.telephony.udp import DatagramSocket
from voicegate.voice.dtmf import DTMFDigit
from voicegate.voice.playout import Samples

logger = logging.getLogger(__name__)


class NoRTPPortError(RoomKitError):
    """Every port of the RTP range is taken."""


class RTPMedia:
    """The RTP side of one call.

    Packets are taken only from the address and port the peer's SDP gave: anything else
    is counted in :attr:`ignored` and dropped. Audio goes through a :class:`JitterBuffer`
    and comes out of :meth:`frames` as 8 kHz frames; telephone events become keys for
    :attr:`on_key`. Answer audio is sent in real-time 20 ms packets, silence while there is
    none, and held back while the peer does not take audio (on hold).

    RTCP (:attr:`rtcp`) is read on the port after the RTP one and, multiplexed, on the RTP
    port itself, from the peer's address; voicegate's reports go every
    :meth:`RTCPSession.interval` to the port the peer's SDP names, and a BYE when the call
    closes.
    """

    def __init__(self, host: str, ports: tuple[int, int]) -> None:
        self._host = host
        self._ports = ports
        self.on_key: Callable[[DTMFDigit], None] | None = None
        self._socket: DatagramSocket | None = None
        self._remote: AudioStream | None = None
        self._choice: MediaChoice | None = None
        self._jitter = JitterBuffer()
        self._events = EventReceiver()
        self._sender = RTPSender()
        self.rtcp = RTCPSession(self._sender.ssrc, CLOCK_RATE)
        self._rtcp_socket: DatagramSocket | None = None
        self._reporter: asyncio.Task[None] | None = None
        self.output = PacedOutput(CLOCK_RATE, self._send, idle_silence=True)
        self._inbox: asyncio.Queue[AudioFrame | None] = asyncio.Queue()
        self.port = 0
        self.ignored = 0
        self.last_heard = 0.0

    async def open(self) -> int:
        """Bind a port of the range (even ones, from a random start) and the next one for RTCP;
        returns the RTP one."""
        low, high = self._ports
        candidates = list(range(low + low % 2, high, 2))  # RTCP's port (+ 1) in the range too
        if not candidates:
            raise NoRTPPortError(f"no even port with a next one in {low}-{high}")
        start = random.randrange(len(candidates))
        loop = asyncio.get_running_loop()
        for port in candidates[start:] + candidates[:start]:
            try:
                transport = await DatagramSocket.bind(self._host, port, self._received)
            except OSError:
                continue
            try:
                control = await DatagramSocket.bind(self._host, port + 1, self._control_received)
            except OSError:
                transport.close()
                continue
            self._socket, self._rtcp_socket, self.port = transport, control, port
            self.last_heard = loop.time()
            return port
        raise NoRTPPortError(f"no free RTP port in {low}-{high}")

    def configure(self, remote: AudioStream, choice: MediaChoice) -> None:
        """Use the peer's (new) description: where to send, what to expect, hold or not."""
        self._remote, self._choice = remote, choice
        if remote.receives:
            self.output.resume()
        else:
            self.output.pause()
        self.output.start("rtp-sender")
        if self._reporter is None:
            self._reporter = asyncio.create_task(self._report(), name="rtcp-reporter")
        self.last_heard = asyncio.get_running_loop().time()

    @property
    def held(self) -> bool:
        """Whether the peer does not take audio now (it put the call on hold)."""
        return self._remote is not None and not self._remote.receives

    @property
    def expects_audio(self) -> bool:
        """Whether the peer should be sending RTP now (known and not holding the call)."""
        return self._remote is not None and self._remote.sends

    async def frames(self) -> AsyncIterator[AudioFrame]:
        """The caller's audio, 8 kHz mono, until :meth:`end`."""
        while (frame := await self._inbox.get()) is not None:
            yield frame

    def end(self) -> None:
        """Make :meth:`frames` stop."""
        self._inbox.put_nowait(None)

    async def close(self) -> None:
        """Stop sending, say goodbye over RTCP, and release the ports (once: again is nothing)."""
        self.end()
        await self.output.stop()
        if self._reporter is not None:
            self._reporter.cancel()
            await asyncio.gather(self._reporter, return_exceptions=True)
            self._reporter = None
            self._send_report(goodbye="")
        for transport in (self._socket, self._rtcp_socket):
            if transport is not None:
                transport.close()

    async def _report(self) -> None:
        """Send voicegate's RTCP reports at RFC 3550's interval while the call lasts."""
        first = True
        while True:
            await asyncio.sleep(RTCPSession.interval(first=first))
            first = False
            self._send_report()

    def _send_report(self, goodbye: str | None = None) -> None:
        remote = self._remote
        if self._rtcp_socket is None or remote is None or remote.address is None:
            return
        report = self.rtcp.report(time.time(), goodbye=goodbye)
        transport = self._socket if remote.rtcp_mux else self._rtcp_socket
        if transport is not None:
            transport.sendto(report, (remote.address, remote.rtcp_destination))

    def _control_received(self, data: bytes, source: tuple[str, int]) -> None:
        remote = self._remote
        if remote is None or source not in (
            (remote.address, remote.port),
            (remote.address, remote.rtcp_destination),
        ):
            self.ignored += 1
            return
        self.rtcp.receive(data, time.time())

    def _received(self, data: bytes, source: tuple[str, int]) -> None:
        if len(data) > 1 and data[1] in MUX_TYPES:  # RTCP multiplexed on the RTP port
            self._control_received(data, source)
            return
        remote, choice = self._remote, self._choice
        if remote is None or choice is None or source != (remote.address, remote.port):
            if self.ignored == 0:
                logger.warning("RTP from %s:%d, not the call's peer: ignored", *source)
            self.ignored += 1
            return
        try:
            packet = RTPPacket.parse(data)
        except RTPError as error:
            logger.debug("not RTP from %s:%d: %s", *source, error)
            return
        self.last_heard = asyncio.get_running_loop().time()
        self.rtcp.received(packet, time.time())
        if packet.payload_type == choice.event_payload:
            for key in self._events.push(packet):
                if self.on_key is not None:
                    self.on_key(key)
        elif packet.payload_type == choice.payload:
            for played in self._jitter.push(packet):
                samples = (
                    choice.codec.decode(played.payload)
                    if played.payload is not None
                    else np.zeros(played.samples, np.int16)  # lost: silence in its place
                )
                self._inbox.put_nowait(AudioFrame(samples, CLOCK_RATE))

    async def _send(self, samples: Samples) -> None:
        remote, choice = self._remote, self._choice
        if self._socket is None or remote is None or choice is None or not remote.receives:
            return
        assert remote.address is not None  # a peer that receives has one
        packet = self._sender.packet(choice.payload, choice.codec.encode(samples), len(samples))
        self._socket.sendto(packet.to_bytes(), (remote.address, remote.port))
        self.rtcp.sent(packet, time.time())

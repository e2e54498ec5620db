"""A SIP phone for the benchmark: a call over UDP, µ-law RTP in real time both ways.

It places the call (INVITE with a PCMU offer, ACK), then runs a phone line: one 20 ms RTP
packet every 20 ms, the speech it is given or silence. Every RTP packet it receives is
kept with its arrival time (``time.monotonic()`` when read: its socket is read in one go
when woken, see :mod:`voicegate.telephony.udp`) and level. Leaving the context hangs up
(BYE). The SIP tests use real phones (SIPp, baresip); this one measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass

from voicegate.audio.frame import AudioFrame
from voicegate.audio.g711 import ULAW
from voicegate.bench.connection import Connection
from voicegate.bench.phone_line import CHUNK_SAMPLES, RATE, PhoneLine
from voicegate.telephony.rtp import RTPError, RTPPacket, RTPSender
from voicegate.telephony.sdp import parse_sdp
from voicegate.telephony.sip.message import SIPParseError, SIPResponse, parse_message
from voicegate.telephony.udp import Address, DatagramSocket


@dataclass(frozen=True, slots=True)
class HeardPacket:
    """A packet of audio the phone received: when it arrived, and its level (dBFS)."""

    arrived: float
    dbfs: float


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, time.monotonic()))


class SIPPhone(Connection):
    """One call to ``sip:user@host:port`` over UDP, from 127.0.0.1; ``async with``."""

    def __init__(self, host: str, port: int, *, user: str = "voicegate", timeout: float = 10.0):
        self.host, self.port, self.user, self.timeout = host, port, user, timeout
        self.heard: list[HeardPacket] = []
        self._call_id = secrets.token_hex(8) + "@bench"
        self._tag = secrets.token_hex(4)
        self._to = ""
        self._cseq = 1
        self._sip: asyncio.DatagramTransport | None = None
        self._sip_inbox = _Inbox()
        self._rtp: DatagramSocket | None = None
        self._remote_rtp: tuple[str, int] | None = None
        self._line = PhoneLine()
        self._tasks: list[asyncio.Task[None]] = []

    async def listen(self) -> None:
        """Open the phone's SIP and RTP ports (:meth:`open` does it first)."""
        loop = asyncio.get_running_loop()
        self._sip, _ = await loop.create_datagram_endpoint(
            lambda: self._sip_inbox, local_addr=("127.0.0.1", 0)
        )
        self._rtp = await DatagramSocket.bind("127.0.0.1", 0, self._heard)

    @property
    def rtp_port(self) -> int:
        """The port the phone takes RTP on."""
        assert self._rtp is not None, "listen() first"
        return self._rtp.port

    async def open(self) -> None:
        """Place the call (INVITE, ACK) and start the phone line."""
        await self.listen()
        try:
            await self._call()
        except BaseException:
            await self._close_sockets()
            raise
        self._tasks = [asyncio.create_task(self._send_rtp())]

    async def close(self) -> None:
        """Stop the line and hang up (BYE) if a call was placed."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._to:
            with contextlib.suppress(TimeoutError, ConnectionError):
                self._cseq += 1
                await self._transaction(self._request("BYE", self._to), final_within=2.0)
        await self._close_sockets()

    async def speak(self, audio: AudioFrame) -> float:
        """Send 8 kHz mono ``audio`` in real time; returns when its last packet was sent."""
        return await self._line.speak(audio)

    async def _call(self) -> None:
        sdp = (
            f"v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
        ).encode()
        to = f"<sip:{self.user}@{self.host}:{self.port}>"
        answer = await self._transaction(self._request("INVITE", to, sdp), self.timeout)
        if answer.status != 200:
            raise ConnectionError(f"the call was refused: {answer.status} {answer.reason}")
        self._to = answer.headers.get("To") or to
        stream = parse_sdp(answer.body.decode())
        assert stream.address is not None
        self._remote_rtp = (stream.address, stream.port)
        self._send(self._request("ACK", self._to))

    def _request(self, method: str, to: str, body: bytes = b"") -> bytes:
        assert self._sip is not None
        local = self._sip.get_extra_info("sockname")[1]
        lines = [
            f"{method} sip:{self.user}@{self.host}:{self.port} SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:{local};branch=z9hG4bK{secrets.token_hex(6)};rport",
            f"From: <sip:bench@127.0.0.1:{local}>;tag={self._tag}",
            f"To: {to}",
            f"Call-ID: {self._call_id}",
            f"CSeq: {self._cseq} {method}",
            f"Contact: <sip:bench@127.0.0.1:{local}>",
            "Max-Forwards: 70",
            *(["Content-Type: application/sdp"] if body else []),
            f"Content-Length: {len(body)}",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _send(self, data: bytes) -> None:
        assert self._sip is not None
        self._sip.sendto(data, (self.host, self.port))

    async def _transaction(self, request: bytes, final_within: float) -> SIPResponse:
        self._send(request)
        async with asyncio.timeout(final_within):
            while True:
                data, _ = await self._sip_inbox.queue.get()
                try:
                    response = parse_message(data)
                except SIPParseError:
                    continue
                if isinstance(response, SIPResponse) and response.status >= 200:
                    return response

    async def _send_rtp(self) -> None:
        """The phone line: a 20 ms RTP packet every 20 ms."""
        assert self._rtp is not None
        assert self._remote_rtp is not None
        rtp, remote, sender = self._rtp, self._remote_rtp, RTPSender()

        async def send(chunk: bytes) -> None:
            rtp.sendto(sender.packet(0, chunk, CHUNK_SAMPLES).to_bytes(), remote)

        await self._line.run(send)

    def _heard(self, data: bytes, source: Address) -> None:
        arrived = time.monotonic()
        try:
            packet = RTPPacket.parse(data)
        except RTPError:
            return
        if packet.payload_type == 0:
            level = AudioFrame(ULAW.decode(packet.payload), RATE).dbfs()
            self.heard.append(HeardPacket(arrived, level))

    async def _close_sockets(self) -> None:
        if self._sip is not None:
            self._sip.close()
        if self._rtp is not None:
            self._rtp.close()

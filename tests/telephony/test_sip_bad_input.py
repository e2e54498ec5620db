"""Bad input at the SIP server from raw sockets: answered with the right 4xx where it can be,
logged and counted, and the server goes on; RTP from a stranger is ignored."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from tests.telephony.conftest import any_room, call_confirmed, phone_speech, sip_backend
from tests.telephony.peers import sipp
from tests.telephony.test_sip_sipp import sip_gateway, wait_for
from voicegate.audio.g711 import ULAW
from voicegate.bench.prompts import Prompt
from voicegate.telephony.rtp import RTPSender
from voicegate.telephony.sip.message import MAX_MESSAGE_BYTES
from voicegate.testing import ScriptedSTT
from voicegate.voice.auth import AuthCallback

OPTIONS = (
    "OPTIONS sip:voicegate@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/{transport} 127.0.0.1:5099;branch=z9hG4bK{branch}\r\n"
    "From: <sip:probe@127.0.0.1>;tag=1\r\n"
    "To: <sip:voicegate@127.0.0.1>\r\n"
    "Call-ID: {branch}@probe\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "{extra}"
    "Content-Length: {length}\r\n"
    "\r\n"
)


def options(branch: str, transport: str = "UDP", extra: str = "", length: int = 0) -> bytes:
    return OPTIONS.format(branch=branch, transport=transport, extra=extra, length=length).encode()


def udp_exchange(port: int, datagrams: list[bytes], replies: int) -> list[str]:
    """Send ``datagrams`` to the server; return the first line of each of ``replies`` replies."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(10)
        for datagram in datagrams:
            sock.sendto(datagram, ("127.0.0.1", port))
        return [sock.recv(65536).decode().split("\r\n")[0] for _ in range(replies)]


def tcp_exchange(port: int, data: bytes) -> tuple[str, bytes]:
    """Send ``data`` on a new connection; the first reply line, and what came after (until the
    server closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head.decode().split("\r\n")[0], rest


async def test_unreadable_datagrams_are_dropped_and_answerable_ones_answered() -> None:
    async with sip_gateway() as phone:
        port = sip_backend(phone).port
        oversized = options("big", extra="X-Pad: x\r\n") + b"y" * MAX_MESSAGE_BYTES
        unknown_version = options("v").replace(
            b"OPTIONS sip:voicegate@127.0.0.1 SIP/2.0", b"OPTIONS sip:voicegate@127.0.0.1 SIP/3.0"
        )
        replies = await asyncio.to_thread(
            udp_exchange,
            port,
            [b"\x00\xffgarbage", b"\r\n\r\n", oversized, unknown_version, options("ok")],
            3,
        )
        metrics = phone.metrics.render().decode()
    assert replies == [
        "SIP/2.0 413 Request Entity Too Large",
        "SIP/2.0 505 Version Not Supported",
        "SIP/2.0 200 OK",  # the server went on
    ]
    assert 'voicegate_errors_total{kind="protocol"} 3.0' in metrics  # the keep-alive is none


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (options("nolength").replace(b"Content-Length: 0\r\n", b""), "SIP/2.0 400 Bad Request"),
        (options("huge", "TCP", length=100_000), "SIP/2.0 413 Request Entity Too Large"),
    ],
)
async def test_a_tcp_stream_that_cannot_be_framed_is_answered_and_closed(
    data: bytes, status: str
) -> None:
    async with sip_gateway() as phone:
        port = sip_backend(phone).port
        first, rest = await asyncio.to_thread(tcp_exchange, port, data + options("after", "TCP"))
        still = await asyncio.to_thread(udp_exchange, port, [options("later")], 1)
    assert first == status
    assert rest == b""  # the connection closed: the message after it was not read
    assert still == ["SIP/2.0 200 OK"]


async def test_a_retransmitted_request_is_answered_again_not_handled_twice() -> None:
    async with sip_gateway() as phone:
        port = sip_backend(phone).port
        same = options("twice")
        replies = await asyncio.to_thread(udp_exchange, port, [same, same], 2)
    assert replies == ["SIP/2.0 200 OK", "SIP/2.0 200 OK"]


async def test_rtp_from_anyone_but_the_caller_is_ignored(
    tmp_path: Path, prompts: dict[str, Prompt]
) -> None:
    stt = ScriptedSTT(["never heard"])
    speech = ULAW.encode(phone_speech(prompts["conf-placeintoconf"]).samples)
    async with sip_gateway(stt) as phone:
        backend = sip_backend(phone)
        call = asyncio.create_task(sipp("wait_bye", backend.port, tmp_path))
        await wait_for(lambda: call_confirmed(backend) or call.done())
        media = backend.calls[0].media
        sender = RTPSender()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rogue:
            for start in range(0, len(speech) - 160, 160):
                packet = sender.packet(8, speech[start : start + 160], 160)
                rogue.sendto(packet.to_bytes(), ("127.0.0.1", media.port))
        count = (len(speech) - 160 + 159) // 160
        await wait_for(lambda: media.ignored >= count)
        await phone.gateway.close()
        run = await call
    assert media.ignored == count
    assert stt.audio_seconds == []  # none of it was heard
    assert run.returncode == 0, run


@pytest.mark.parametrize(
    ("auth", "refusal"),
    [(None, "SIP/2.0 403 Forbidden"), (any_room, "SIP/2.0 404 Not Found")],
    ids=["anonymous", "granted"],
)
async def test_a_call_for_a_room_not_granted_gets_403_and_for_a_missing_one_404(
    auth: AuthCallback | None, refusal: str
) -> None:
    invite = (
        b"INVITE sip:voicegate@127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bKnoroom\r\n"
        b"From: <sip:probe@127.0.0.1>;tag=1\r\n"
        b"To: <sip:voicegate@127.0.0.1>\r\n"
        b"Call-ID: noroom@probe\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Contact: <sip:probe@127.0.0.1:5099>\r\n"
        b"X-Voicegate-Room: no-such-room\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    async with sip_gateway(auth=auth) as phone:
        replies = await asyncio.to_thread(udp_exchange, sip_backend(phone).port, [invite], 2)
        rooms = await phone.kit.store.list_rooms()
    assert replies == ["SIP/2.0 100 Trying", refusal]
    assert rooms == []

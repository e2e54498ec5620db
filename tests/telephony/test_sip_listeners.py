"""The SIP server's UDP socket and TCP listener share one port, even when the first free UDP
port the system gives is taken for TCP."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import pytest

from voicegate.telephony.sip import network
from voicegate.telephony.sip.network import SIPListeners


def _ignore(*_: object) -> None:
    return None


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def test_a_port_taken_for_tcp_is_refused_and_leaves_nothing_bound() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if not _udp_free(port):
            pytest.skip(f"UDP port {port} is in use by another process")
        listeners = SIPListeners(_ignore, "127.0.0.1", port)
        with pytest.raises(OSError, match="in use"):
            await listeners.start()
        await asyncio.sleep(0)  # asyncio closes a transport's socket at the next iteration
        assert _udp_free(port)  # the UDP socket it bound first is closed again


async def test_on_port_0_another_port_is_tried_when_tcp_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_start_server = asyncio.start_server
    tried: list[int] = []

    async def taken_once(*args: Any, **kwargs: Any) -> asyncio.Server:
        tried.append(args[2])
        if len(tried) == 1:
            raise OSError(errno.EADDRINUSE, "address already in use")
        return await real_start_server(*args, **kwargs)

    monkeypatch.setattr(network.asyncio, "start_server", taken_once)
    listeners = SIPListeners(_ignore, "127.0.0.1", 0)
    await listeners.start()
    await asyncio.sleep(0)
    try:
        assert len(tried) == 2
        assert _udp_free(tried[0])  # the first UDP port was let go
        assert listeners.port == tried[1]
        assert not _udp_free(listeners.port)  # UDP and TCP on the same port now
        _, writer = await asyncio.open_connection("127.0.0.1", listeners.port)
        writer.close()
    finally:
        await listeners.close()

"""`voicegate serve` taking phone calls: Twilio and SIP together, counted by /metrics."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from pathlib import Path

import pytest

from tests.servers import running_server
from tests.telephony.peers import free_port, sipp
from tests.telephony.test_twilio_stream import post_form
from voicegate.bench.twilio_client import TwilioMediaStreamClient, stream_of
from voicegate.errors import ConfigError
from voicegate.server.app import GatewayServer
from voicegate.server.config import ServeConfig

pytestmark = pytest.mark.models


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text: str = response.read().decode()
        return text


async def test_serve_takes_twilio_and_sip_calls_and_counts_them_by_transport(
    tmp_path: Path,
) -> None:
    sip_port = free_port(socket.SOCK_STREAM)
    rtp = free_port()
    args = ("--anonymous", "--store", "memory", "--twilio", "--sip", "--sip-port", str(sip_port),
            "--rtp-ports", f"{rtp}-{rtp + 20}")  # fmt: skip
    with running_server(*args) as (_, port):
        webhook = f"http://127.0.0.1:{port}/twilio/voice"
        status, _, twiml = await asyncio.to_thread(post_form, webhook, {"From": "+1555"}, None)
        url, parameters = stream_of(twiml)
        async with TwilioMediaStreamClient(url, custom_parameters=parameters) as call:
            await call.press("1")
            await call.wait_until(lambda: call.record.marks_echoed, 60)
        run = await sipp("info", sip_port, tmp_path, args=("-d", "3000"))
        metrics = await asyncio.to_thread(_metrics, port)
    assert status == 200
    assert run.returncode == 0, run
    assert 'voicegate_sessions_total{transport="twilio"} 1.0' in metrics
    assert 'voicegate_sessions_total{transport="sip"} 1.0' in metrics


def test_sip_without_credentials_needs_anonymous() -> None:
    with pytest.raises(ConfigError, match="--sip needs --sip-users"):
        GatewayServer(ServeConfig(sip=True, store="memory"))

"""Authentication of voice WebSockets on the real gateway: every carrier, every refusal.

Forged, missing and expired tokens are covered in ``test_websocket_session.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.voice.conftest import Gateway, close_code, running_gateway, voice_client
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.auth import AuthCallback
from voicegate.voice.websocket import WebSocketVoiceBackend

pytestmark = pytest.mark.models


@pytest.mark.parametrize("carrier", ["query", "subprotocol", "header"])
async def test_a_valid_token_is_accepted_from_every_carrier(gateway: Gateway, carrier: str) -> None:
    token = gateway.auth.issue("alice", claims={"plan": "pro"})
    url, options = gateway.ws_url, dict[str, Any]()
    if carrier == "query":
        url += f"?token={token}"
    elif carrier == "subprotocol":
        options["subprotocols"] = [f"voicegate.token.{token}"]
    else:
        options["additional_headers"] = {"Authorization": f"Bearer {token}"}
    async with voice_client(url, **options) as client:
        session = gateway.gateway.sessions[client.ready["session_id"]]
        assert session.participant_id == "alice"
        assert session.metadata["claims"] == {"plan": "pro"}


async def _refuse(request: Any) -> dict[str, Any] | None:
    return None


async def _explode(request: Any) -> dict[str, Any] | None:
    raise RuntimeError("secret database password in this message")


@pytest.mark.parametrize(
    ("callback", "logged"),
    [
        (_refuse, "rejected by the auth callback"),
        (_explode, "auth callback raised"),
        (None, "no auth callback configured"),
    ],
    ids=["returns-none", "raises", "no-callback"],
)
async def test_a_refused_client_is_closed_with_4401_and_never_reaches_a_room(
    stt: FasterWhisperSTT,
    tts: PiperTTS,
    caplog: pytest.LogCaptureFixture,
    callback: AuthCallback | None,
    logged: str,
) -> None:
    backend = WebSocketVoiceBackend(callback, allow_anonymous=False)
    async with running_gateway(stt, tts, backend=backend) as gw:
        with caplog.at_level(logging.INFO, logger="voicegate.voice.auth"):
            async with connect(gw.ws_url) as ws:
                assert await close_code(ws) == (4401, "unauthorized")
        assert await gw.kit.store.list_rooms() == []
        assert not gw.gateway.sessions
    record = next(r for r in caplog.records if logged in r.getMessage())
    if callback is _explode:
        assert record.exc_info is not None
        assert "secret database password" in str(record.exc_info[1])


async def test_anonymous_access_must_be_switched_on(stt: FasterWhisperSTT, tts: PiperTTS) -> None:
    backend = WebSocketVoiceBackend(None, allow_anonymous=True)
    async with (
        running_gateway(stt, tts, backend=backend) as gw,
        voice_client(gw.ws_url) as client,
    ):
        assert gw.gateway.sessions[client.ready["session_id"]].metadata == {"anonymous": True}

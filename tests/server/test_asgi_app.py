"""voicegate's ASGI app on a real uvicorn: routes, limits, errors, static files, WebSockets."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.voice.conftest import close_code, fatal_error, last_words
from voicegate import InMemoryStore, RoomKit
from voicegate.server.asgi import create_voice_app
from voicegate.server.embedded import MAX_WS_MESSAGE_BYTES, EmbeddedServer, PortInUseError
from voicegate.server.metrics import GatewayMetrics
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.tokens import TokenAuth
from voicegate.voice.webrtc import MAX_OFFER_BYTES, WebRTCVoiceBackend
from voicegate.voice.websocket import WebSocketVoiceBackend

SECRET = b"asgi-app-tests-secret-0123456789"


class ExplodingMetrics(GatewayMetrics):
    def render(self) -> bytes:
        raise RuntimeError("secret database password is hunter2")


@dataclass
class Served:
    port: int
    gateway: VoiceGateway
    auth: TokenAuth

    def ws_url(self, path: str = "/ws", token: str | None = "") -> str:
        token = self.auth.issue("ada") if token == "" else token
        return f"ws://127.0.0.1:{self.port}{path}" + (f"?token={token}" if token else "")


@pytest.fixture
async def served(stt: FasterWhisperSTT, tts: PiperTTS) -> AsyncIterator[Served]:
    auth = TokenAuth(SECRET, ttl=60)
    kit = RoomKit(store=InMemoryStore())
    gateway = VoiceGateway(
        kit,
        stt=stt,
        tts=tts,
        backends=[WebSocketVoiceBackend(auth), WebRTCVoiceBackend(auth)],
    )
    await gateway.start()
    app = create_voice_app(gateway, metrics=ExplodingMetrics())
    async with EmbeddedServer(app, "127.0.0.1", 0) as server:
        yield Served(server.port, gateway, auth)
        await gateway.close()
    await kit.close()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def _read_reply(reader: asyncio.StreamReader, *, to_head: bool = False) -> Reply:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status_line, *lines = head.split("\r\n")[:-2]
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
    length = 0 if to_head else int(headers.get("content-length", "0"))
    return Reply(int(status_line.split(" ")[1]), headers, await reader.readexactly(length))


async def _exchange(port: int, request: bytes) -> Reply:
    """Send one raw request and read its reply (the connection may stay open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await _read_reply(reader, to_head=request.startswith(b"HEAD "))
    finally:
        writer.close()


def _request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_health_reports_sessions_and_store(served: Served) -> None:
    reply = await _exchange(served.port, _request("GET", "/healthz"))
    assert (reply.status, reply.headers["content-type"]) == (200, "application/json")
    health = reply.json()
    assert (health["status"], health["sessions"], health["store"]) == ("ok", 0, "InMemoryStore")


async def test_keep_alive_serves_several_requests_on_one_connection(served: Served) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        for path in ("/healthz", "/static/style.css", "/nope"):
            writer.write(_request("GET", path))
            await writer.drain()
            reply = await _read_reply(reader)
            assert reply.status == (404 if path == "/nope" else 200)
            assert reply.headers.get("connection") != "close"
    finally:
        writer.close()


async def test_page_uses_relative_urls_and_static_files_have_types(served: Served) -> None:
    page = await _exchange(served.port, _request("GET", "/"))
    assert (page.status, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert b'src="static/app.js"' in page.body
    assert b'"/' not in page.body  # no absolute URL: the page works under any mount prefix
    script = await _exchange(served.port, _request("GET", "/static/app.js"))
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "no-cache"
    assert b'fetch("/' not in script.body
    head = await _exchange(served.port, _request("HEAD", "/static/capture-worklet.js"))
    assert (head.status, head.headers["content-type"]) == (200, script.headers["content-type"])


@pytest.mark.parametrize(
    "path",
    [
        "/static/../asgi.py",
        "/static/%2e%2e/asgi.py",
        "/static/..%2fasgi.py",
        "/static/%2e%2e/%2e%2e/server/asgi.py",
        "/static/nothere.js",
        "/static/%00app.js",
        "/../server/asgi.py",
    ],
)
async def test_static_traversal_and_missing_files_are_404(served: Served, path: str) -> None:
    reply = await _exchange(served.port, _request("GET", path))
    assert reply.status == 404
    assert reply.json()["error"] == "not_found"
    assert b"create_voice_app" not in reply.body


async def test_unknown_path_is_404_and_wrong_method_405_with_allow(served: Served) -> None:
    reply = await _exchange(served.port, _request("GET", "/nope/deeper"))
    assert reply.status == 404
    assert reply.json() == {"error": "not_found", "message": "no such path: /nope/deeper"}
    for method, path, allowed in [
        ("POST", "/healthz", {"GET", "HEAD"}),
        ("GET", "/webrtc/offer", {"POST"}),
        ("POST", "/ws", {"GET", "HEAD"}),
        ("DELETE", "/static/app.js", {"GET", "HEAD"}),
    ]:
        reply = await _exchange(served.port, _request(method, path))
        assert reply.status == 405, (method, path)
        assert set(reply.headers["allow"].split(", ")) == allowed
        assert reply.json()["error"] == "method_not_allowed"


async def test_plain_get_on_the_websocket_path_is_426(served: Served) -> None:
    reply = await _exchange(served.port, _request("GET", "/ws"))
    assert (reply.status, reply.headers["upgrade"]) == (426, "websocket")
    assert reply.json()["error"] == "upgrade_required"


async def test_offer_over_the_limit_is_413_before_its_body_is_sent(served: Served) -> None:
    huge = b"POST /webrtc/offer HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"
    reply = await _exchange(served.port, huge)
    assert reply.status == 413
    assert reply.json()["error"] == "request_entity_too_large"
    assert str(MAX_OFFER_BYTES) in reply.json()["message"]


async def test_chunked_offer_over_the_limit_is_413(served: Served) -> None:
    chunk = b"x" * 8192
    chunks = b"".join(b"2000\r\n" + chunk + b"\r\n" for _ in range(MAX_OFFER_BYTES // 8192 + 1))
    head = b"POST /webrtc/offer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply = await _exchange(served.port, head + chunks + b"0\r\n\r\n")
    assert reply.status == 413
    assert str(MAX_OFFER_BYTES) in reply.json()["message"]


async def test_offer_that_is_not_json_is_415(served: Served) -> None:
    token = served.auth.issue("ada")
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        headers = {"Authorization": f"Bearer {token}"}
        if content_type:
            headers["Content-Type"] = content_type
        reply = await _exchange(
            served.port, _request("POST", "/webrtc/offer", b'{"sdp": "v=0"}', headers)
        )
        assert reply.status == 415, content_type
        assert reply.json()["error"] == "unsupported_media_type"
    json_type = "Application/JSON; charset=utf-8"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": json_type}
    reply = await _exchange(served.port, _request("POST", "/webrtc/offer", b"{}", headers))
    assert (reply.status, reply.json()["error"]) == (400, "bad_request")


async def test_a_failing_handler_is_500_without_leaking(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="voicegate.server.asgi"):
        reply = await _exchange(served.port, _request("GET", "/metrics"))
    assert reply.status == 500
    assert reply.json() == {"error": "internal_server_error", "message": "internal server error"}
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


async def test_websocket_on_an_unknown_path_is_404(served: Served) -> None:
    with pytest.raises(InvalidStatus) as raised:
        async with connect(served.ws_url("/elsewhere")):
            pass
    assert raised.value.response.status_code == 404
    assert json.loads(raised.value.response.body or b"")["error"] == "not_found"


async def _hello(connection: ClientConnection) -> dict[str, Any]:
    await connection.send(json.dumps({"type": "hello", "sample_rate": 16000}))
    ready: dict[str, Any] = json.loads(await connection.recv())
    return ready


async def test_the_voicegate_subprotocol_is_echoed_and_carries_the_token(served: Served) -> None:
    offered = ["other", f"voicegate.token.{served.auth.issue('ada')}"]
    async with connect(served.ws_url(token=None), subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == offered[1]
        assert (await _hello(ws))["type"] == "ready"


async def test_a_message_over_the_server_limit_closes_with_1009(served: Served) -> None:
    async with connect(served.ws_url(), max_size=None) as ws:
        await _hello(ws)
        await ws.send(bytes(MAX_WS_MESSAGE_BYTES + 2))
        code, reason = await close_code(ws)
    assert code == 1009  # the server's limit, not the protocol's max_frame_bytes: as documented
    # the library's words, documented (uncompressed: no permessage-deflate)
    assert reason == f"frame with {MAX_WS_MESSAGE_BYTES + 2} bytes exceeds limit of 1048576 bytes"


async def test_messages_are_not_compressed_though_the_client_offers_deflate(
    served: Served,
) -> None:
    async with connect(served.ws_url()) as ws:  # websockets offers permessage-deflate
        assert ws.request is not None
        assert ws.response is not None
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert (await _hello(ws))["type"] == "ready"


async def test_closing_the_gateway_tells_every_connection_1001(served: Served) -> None:
    async with connect(served.ws_url()) as in_session, connect(served.ws_url()) as before_hello:
        await _hello(in_session)
        await served.gateway.close()
        last = await last_words(in_session)
        assert last == (fatal_error("server_shutting_down"), 1001, "server_shutting_down")
        assert await close_code(before_hello) == (1001, "server_shutting_down")
        async with connect(served.ws_url()) as late:
            assert await close_code(late) == (1001, "server_shutting_down")


async def test_a_busy_port_has_a_clear_error(served: Served) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = EmbeddedServer(create_voice_app(served.gateway), "127.0.0.1", port)
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            await server.start()
        with pytest.raises(RuntimeError, match="not started"):
            _ = server.port


async def test_two_backends_on_one_path_are_refused(stt: FasterWhisperSTT, tts: PiperTTS) -> None:
    gateway = VoiceGateway(
        RoomKit(store=InMemoryStore()),
        stt=stt,
        tts=tts,
        backends=[WebSocketVoiceBackend(), WebRTCVoiceBackend(path="/ws")],
    )
    with pytest.raises(ValueError, match="same path"):
        create_voice_app(gateway)

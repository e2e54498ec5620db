"""The single-port front door on real sockets: routes, bodies, static files, WebSockets, errors."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from voicegate.server.http import FrontDoor, PortInUseError
from voicegate.server.messages import HttpRequest, HttpResponse

BODY_LIMIT = 1024


async def _health(request: HttpRequest) -> HttpResponse:
    return HttpResponse.json({"ok": True, "query": request.query})


async def _echo_body(request: HttpRequest) -> HttpResponse:
    return HttpResponse.json(
        {
            "length": len(request.body),
            "data": request.json(),
            "type": request.headers["content-type"],
        }
    )


async def _explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret database password is hunter2")


async def _echo_socket(request: HttpRequest, connection: ServerConnection) -> None:
    await connection.send(f"hello {request.query.get('name', '?')}")
    async for message in connection:
        await connection.send(message)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "static" / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<h1>voicegate</h1>")
    (root / "static" / "app.js").write_text("console.log(1)")
    (root / "static" / "sub" / "big.bin").write_bytes(bytes(range(256)) * 4096)
    (tmp_path / "secret.txt").write_text("do not serve")
    return root


@pytest.fixture
async def door(site: Path) -> AsyncIterator[FrontDoor]:
    front = FrontDoor("127.0.0.1", 0, max_body_bytes=BODY_LIMIT)
    front.route("GET", "/healthz", _health)
    front.route("POST", "/echo", _echo_body)
    front.route("GET", "/boom", _explode)
    front.websocket("/ws", _echo_socket)
    front.static("/", site)
    async with front:
        yield front


@dataclass
class Reply:
    """A parsed HTTP/1.1 response (the front door always closes after one)."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def _send(
    door: FrontDoor, method: str, path: str, body: bytes = b"", content_type: str = ""
) -> Reply:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    raw = await _raw(door, head.encode() + b"\r\n" + body)
    head_bytes, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    assert int(headers["Content-Length"]) == len(payload)
    return Reply(int(status_line.split(" ")[1]), headers, payload)


async def _raw(door: FrontDoor, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(data)
    await writer.drain()
    response = await reader.read()
    writer.close()
    return response


async def test_get_route_with_query(door: FrontDoor) -> None:
    response = await _send(door, "GET", "/healthz?x=1&y=two%20words")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"ok": True, "query": {"x": "1", "y": "two words"}}


async def test_post_with_body_reaches_handler(door: FrontDoor) -> None:
    payload = {"sdp": "v=0\r\n" + "a" * 500, "type": "offer"}
    response = await _send(door, "POST", "/echo", json.dumps(payload).encode(), "application/json")
    assert response.status == 200
    body = response.json()
    assert body["data"] == payload
    assert body["type"] == "application/json"
    assert body["length"] > 500


async def test_post_body_split_across_packets(door: FrontDoor) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\nContent-Length: 8\r\n\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(b'{"a":')
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.write(b" 1}")
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 200 OK")
    assert response.endswith(b'{"length":8,"data":{"a":1},"type":"a/b"}')


async def test_post_body_over_limit_is_413(door: FrontDoor) -> None:
    response = await _send(door, "POST", "/echo", b"x" * (BODY_LIMIT + 1))
    assert response.status == 413
    body = response.json()
    assert body["error"] == "request_entity_too_large"
    assert str(BODY_LIMIT) in body["message"]


async def test_huge_body_is_refused_without_reading_it(door: FrontDoor) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", door.port)
    writer.write(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
    response = await reader.read()
    writer.close()
    assert response.startswith(b"HTTP/1.1 413 ")


async def test_malformed_requests_get_400(door: FrontDoor) -> None:
    assert (await _raw(door, b"NONSENSE\r\n\r\n")).startswith(b"HTTP/1.1 400 ")
    bad_length = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"
    assert (await _raw(door, bad_length)).startswith(b"HTTP/1.1 400 ")
    chunked = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert (await _raw(door, chunked)).startswith(b"HTTP/1.1 411 ")


async def test_unknown_path_404_and_wrong_method_405(door: FrontDoor) -> None:
    response = await _send(door, "GET", "/nope/deeper")
    assert response.status == 404
    assert response.json()["error"] == "not_found"
    response = await _send(door, "POST", "/healthz", b"{}")
    assert (response.status, response.headers["Allow"]) == (405, "GET")
    response = await _send(door, "GET", "/echo")
    assert (response.status, response.headers["Allow"]) == (405, "POST")
    assert (await _send(door, "POST", "/ws")).status == 405
    assert (await _send(door, "DELETE", "/index.html")).status == 405


async def test_handler_exception_is_500_without_leaking(
    door: FrontDoor, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="voicegate.server.http"):
        response = await _send(door, "GET", "/boom")
    assert response.status == 500
    assert b"hunter2" not in response.body
    assert response.json() == {"error": "internal_server_error", "message": "internal server error"}
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


async def test_static_files_and_index(door: FrontDoor) -> None:
    response = await _send(door, "GET", "/")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.body == b"<h1>voicegate</h1>"
    response = await _send(door, "GET", "/static/app.js")
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.body == b"console.log(1)"
    response = await _send(door, "GET", "/static/sub/big.bin")
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.body == bytes(range(256)) * 4096


@pytest.mark.parametrize(
    "path",
    [
        b"/../secret.txt",
        b"/static/../../secret.txt",
        b"/%2e%2e/secret.txt",
        b"/static/%2e%2e/%2e%2e/secret.txt",
        b"/..%2fsecret.txt",
        b"/static/nothere.js",
        b"/%00index.html",
    ],
)
async def test_static_traversal_and_missing_are_404(door: FrontDoor, path: bytes) -> None:
    response = await _raw(door, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 404 ")
    assert b"do not serve" not in response


async def test_websocket_echo_on_the_same_port(door: FrontDoor) -> None:
    async with connect(f"ws://127.0.0.1:{door.port}/ws?name=ada") as ws:
        assert await ws.recv() == "hello ada"
        await ws.send(b"\x01\x02")
        assert await ws.recv() == b"\x01\x02"
        await ws.send("text")
        assert await ws.recv() == "text"


async def test_websocket_accepts_voicegate_subprotocol(door: FrontDoor) -> None:
    offered = ["other", "voicegate.token.abc"]
    async with connect(f"ws://127.0.0.1:{door.port}/ws", subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "voicegate.token.abc"


async def test_websocket_on_unknown_path_is_404(door: FrontDoor) -> None:
    with pytest.raises(InvalidStatus) as raised:
        async with connect(f"ws://127.0.0.1:{door.port}/elsewhere"):
            pass
    assert raised.value.response.status_code == 404


async def test_stop_closes_websockets_with_code(site: Path) -> None:
    front = FrontDoor("127.0.0.1", 0)
    front.websocket("/ws", _echo_socket)
    await front.start()
    async with connect(f"ws://127.0.0.1:{front.port}/ws") as ws:
        await ws.recv()
        await front.stop(close_code=1012, reason="restart")
        with pytest.raises(ConnectionClosed) as raised:
            await ws.recv()
    assert raised.value.rcvd is not None
    assert raised.value.rcvd.code == 1012


async def test_busy_port_has_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            await FrontDoor("127.0.0.1", port).start()


def test_port_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = FrontDoor().port


async def test_plain_get_on_websocket_path_is_426(door: FrontDoor) -> None:
    response = await _send(door, "GET", "/ws")
    assert response.status == 426

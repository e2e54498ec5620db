"""Voice authentication: the callback contract, auth_context isolation, a token on a socket."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from voicegate.server.adapters import StarletteMessageSocket, http_request
from voicegate.server.embedded import EmbeddedServer
from voicegate.voice.auth import (
    REJECTED_REASON,
    auth_context,
    authenticate,
    run_with_auth_context,
)
from voicegate.voice.http import CaseInsensitiveHeaders, HttpRequest
from voicegate.voice.tokens import TokenAuth

SECRET = b"0123456789abcdef-test-secret"


def request_with(query: Mapping[str, str] | None = None, **headers: str) -> HttpRequest:
    return HttpRequest(
        method="GET",
        path="/ws",
        query=dict(query or {}),
        headers=CaseInsensitiveHeaders((k.replace("_", "-"), v) for k, v in headers.items()),
    )


async def test_dict_accepts_and_becomes_metadata() -> None:
    async def allow(context: Any) -> dict[str, Any] | None:
        return {"user": context.query["user"]}

    outcome = await authenticate(allow, request_with({"user": "ada"}))
    assert outcome.accepted
    assert outcome.metadata == {"user": "ada"}


async def test_none_rejects() -> None:
    async def deny(context: Any) -> dict[str, Any] | None:
        return None

    outcome = await authenticate(deny, request_with())
    assert not outcome.accepted
    assert outcome.reason == REJECTED_REASON


async def test_exception_rejects_logs_traceback_and_does_not_leak(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(context: Any) -> dict[str, Any] | None:
        raise RuntimeError("db password hunter2")

    with caplog.at_level(logging.ERROR, logger="voicegate.voice.auth"):
        outcome = await authenticate(broken, request_with())
    assert not outcome.accepted
    assert "hunter2" not in outcome.reason
    assert outcome.reason == REJECTED_REASON
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


async def test_non_dict_answer_rejects() -> None:
    async def sloppy(context: Any) -> Any:
        return "yes"

    assert not (await authenticate(sloppy, request_with())).accepted


async def test_no_callback_rejects_unless_anonymous() -> None:
    assert not (await authenticate(None, request_with())).accepted
    anonymous = await authenticate(None, request_with(), allow_anonymous=True)
    assert anonymous.accepted
    assert anonymous.metadata == {"anonymous": True}


async def test_factory_sees_metadata_and_caller_does_not() -> None:
    async def factory(session_id: str) -> tuple[str, dict[str, Any] | None]:
        return session_id, auth_context.get()

    result = await run_with_auth_context({"user": "ada"}, factory, "s1")
    assert result == ("s1", {"user": "ada"})
    assert auth_context.get() is None


async def test_concurrent_connections_never_see_each_other() -> None:
    both_inside = asyncio.Barrier(2)

    async def factory(expected: str) -> str:
        await both_inside.wait()
        seen = auth_context.get()
        assert seen is not None
        await asyncio.sleep(0)
        assert auth_context.get() == seen
        return str(seen["user"])

    results = await asyncio.gather(
        run_with_auth_context({"user": "ada"}, factory, "ada"),
        run_with_auth_context({"user": "bob"}, factory, "bob"),
    )
    assert results == ["ada", "bob"]
    assert auth_context.get() is None


async def test_token_auth_through_a_real_websocket() -> None:
    """A browser-style client passes the token as a subprotocol; without one it gets 4401."""
    tokens = TokenAuth(SECRET, ttl=60)

    async def handler(websocket: WebSocket) -> None:
        socket = StarletteMessageSocket(websocket)
        outcome = await authenticate(tokens, http_request(websocket, "GET"))
        await socket.accept()
        if not outcome.accepted:
            await socket.close(4401, outcome.reason)
            return
        await socket.send(f"welcome {outcome.metadata['subject']}")
        await socket.close(1000)

    app = Starlette(routes=[WebSocketRoute("/ws", handler)])
    async with EmbeddedServer(app, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/ws"
        offered = [f"voicegate.token.{tokens.issue('ada')}"]
        async with connect(url, subprotocols=offered) as ws:  # type: ignore[arg-type]
            assert await ws.recv() == "welcome ada"
        async with connect(f"{url}?token={tokens.issue('bob')}") as ws:
            assert await ws.recv() == "welcome bob"
        async with connect(url) as ws:
            with pytest.raises(ConnectionClosedError) as raised:
                await ws.recv()
        assert raised.value.rcvd is not None
        assert (raised.value.rcvd.code, raised.value.rcvd.reason) == (4401, REJECTED_REASON)

"""Voice authentication: the callback contract, auth_context isolation and signed tokens."""

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
    TokenAuth,
    auth_context,
    authenticate,
    run_with_auth_context,
)
from voicegate.voice.http import CaseInsensitiveHeaders, HttpRequest

SECRET = b"0123456789abcdef-test-secret"


class Clock:
    """A settable clock for token expiry."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _request(query: Mapping[str, str] | None = None, **headers: str) -> HttpRequest:
    return HttpRequest(
        method="GET",
        path="/ws",
        query=dict(query or {}),
        headers=CaseInsensitiveHeaders((k.replace("_", "-"), v) for k, v in headers.items()),
    )


async def test_dict_accepts_and_becomes_metadata() -> None:
    async def allow(context: Any) -> dict[str, Any] | None:
        return {"user": context.query["user"]}

    outcome = await authenticate(allow, _request({"user": "ada"}))
    assert outcome.accepted
    assert outcome.metadata == {"user": "ada"}


async def test_none_rejects() -> None:
    async def deny(context: Any) -> dict[str, Any] | None:
        return None

    outcome = await authenticate(deny, _request())
    assert not outcome.accepted
    assert outcome.reason == REJECTED_REASON


async def test_exception_rejects_logs_traceback_and_does_not_leak(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(context: Any) -> dict[str, Any] | None:
        raise RuntimeError("db password hunter2")

    with caplog.at_level(logging.ERROR, logger="voicegate.voice.auth"):
        outcome = await authenticate(broken, _request())
    assert not outcome.accepted
    assert "hunter2" not in outcome.reason
    assert outcome.reason == REJECTED_REASON
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)


async def test_non_dict_answer_rejects() -> None:
    async def sloppy(context: Any) -> Any:
        return "yes"

    assert not (await authenticate(sloppy, _request())).accepted


async def test_no_callback_rejects_unless_anonymous() -> None:
    assert not (await authenticate(None, _request())).accepted
    anonymous = await authenticate(None, _request(), allow_anonymous=True)
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


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock: Clock) -> TokenAuth:
    return TokenAuth(SECRET, ttl=60, clock=clock)


async def test_valid_token_in_query(tokens: TokenAuth, clock: Clock) -> None:
    token = tokens.issue("ada", {"room": "r1"})
    meta = await tokens(_request({"token": token}))
    assert meta == {"subject": "ada", "claims": {"room": "r1"}, "expires_at": clock.now + 60}


async def test_valid_token_in_subprotocol(tokens: TokenAuth) -> None:
    token = tokens.issue("ada")
    meta = await tokens(_request(Sec_WebSocket_Protocol=f"chat, voicegate.token.{token}"))
    assert meta is not None
    assert meta["subject"] == "ada"


async def test_valid_token_in_bearer_header(tokens: TokenAuth) -> None:
    meta = await tokens(_request(authorization=f"Bearer {tokens.issue('bob')}"))
    assert meta is not None
    assert meta["subject"] == "bob"


async def test_expired_token_rejected(
    tokens: TokenAuth, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.issue("ada", ttl=5)
    clock.now += 5
    with caplog.at_level(logging.INFO, logger="voicegate.voice.auth"):
        assert await tokens(_request({"token": token})) is None
    assert "expired" in caplog.text
    assert token not in caplog.text


async def test_tampered_token_rejected(tokens: TokenAuth) -> None:
    token = tokens.issue("ada")
    payload, signature = token.split(".")
    forged_payload = TokenAuth(b"another-secret-of-16b", clock=Clock()).issue("admin").split(".")[0]
    assert await tokens(_request({"token": f"{forged_payload}.{signature}"})) is None
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert await tokens(_request({"token": f"{payload}.{flipped}"})) is None
    assert await tokens(_request({"token": payload})) is None
    assert await tokens(_request({"token": "not a token at all"})) is None


async def test_missing_token_rejected(tokens: TokenAuth) -> None:
    assert await tokens(_request()) is None
    assert await tokens(_request(authorization="Basic dXNlcjpwYXNz")) is None
    assert await tokens(object()) is None


async def test_wrong_secret_rejected(tokens: TokenAuth, clock: Clock) -> None:
    other = TokenAuth(b"a-different-secret-entirely", clock=clock)
    assert await tokens(_request({"token": other.issue("ada")})) is None


def test_weak_configuration_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        TokenAuth(b"short")
    with pytest.raises(ValueError, match="ttl must be positive"):
        TokenAuth(SECRET, ttl=0)


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

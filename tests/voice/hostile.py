"""Hostile inputs over HTTP, the WebSocket, SDP and tokens, each with its documented answer.

A :class:`Case` sends one input to a running gateway and returns what came back: a close
code and reason, an ``error`` message's code and fatality (and how the session then
closed), or an HTTP status and error slug (``None`` for a body that is not voicegate's
JSON, such as uvicorn's own plain-text 400). ``docs/protocol.md`` documents every answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.voice.conftest import Gateway, close_code, voice_client
from voicegate.voice.tokens import TokenAuth

Answer = tuple[Any, ...]
Send = Callable[["Target"], Awaitable[Answer]]

HELLO = json.dumps({"type": "hello", "sample_rate": 16000})
DEEP = "[" * 4000 + "]" * 4000
HUGE_INT = "1" * 5000
OFFER = "/webrtc/offer"
FINGERPRINT = r"a=fingerprint:sha-256 [0-9A-F:]+"


@dataclass
class Target:
    """The gateway under attack, a victim's room in it and a real client's SDP offer."""

    gw: Gateway
    victim_room: str
    offer: str

    def token(self, subject: str = "mallory", **options: Any) -> str:
        """A valid token of the gateway's, for no room of anyone else's."""
        return self.gw.auth.issue(subject, **options)


@dataclass(frozen=True)
class Case:
    """One hostile input: its name, how to send it, and the answers it may get."""

    name: str
    send: Send
    accepted: tuple[Answer, ...]


# ---- WebSocket ------------------------------------------------------------------------------


def ws(
    *messages: str | bytes, token: Callable[[Target], str] | None = Target.token, **options: Any
) -> Send:
    """Connect (``token`` in the query; ``None``: no token), send ``messages`` (``VICTIM`` in
    text becomes the victim's room id); answer the close code and reason."""

    async def send(target: Target) -> Answer:
        url = target.gw.ws_url if token is None else f"{target.gw.ws_url}?token={token(target)}"
        async with connect(url, max_size=None, **options) as socket:
            for message in messages:
                if isinstance(message, str):
                    message = message.replace("VICTIM", target.victim_room)
                with contextlib.suppress(ConnectionClosed):  # it may have closed already
                    await socket.send(message)
            return await close_code(socket)

    return send


def code_only(send: Send) -> Send:
    """``send``'s close code alone (for closes whose reason the WebSocket library writes)."""

    async def code(target: Target) -> Answer:
        return (await send(target))[:1]

    return code


def in_session(message: str, repeat: int = 1) -> Send:
    """After a hello, send ``message`` ``repeat`` times: the last error's code and fatality,
    and how the session closed (after a ``bye`` when the error was not fatal)."""

    async def send(target: Target) -> Answer:
        async with voice_client(f"{target.gw.ws_url}?token={target.token()}") as client:
            for _ in range(repeat):
                await client.connection.send(message)
            error = await client.wait_for("error", count=repeat)
            if not error["fatal"]:
                await client.connection.send(json.dumps({"type": "bye"}))
            assert client.listener is not None
            await client.listener
            return error["code"], error["fatal"], await close_code(client.connection)

    return send


def hello_in(room_id: str) -> str:
    return json.dumps({"type": "hello", "sample_rate": 16000, "room_id": room_id})


def expired(target: Target) -> str:
    return target.token(ttl=-1)


def other_servers(target: Target) -> str:
    return TokenAuth(b"not-the-servers-secret-0123456789").issue("mallory")


def literal(token: str) -> Callable[[Target], str]:
    return lambda target: token


# ---- HTTP -----------------------------------------------------------------------------------


async def exchange(target: Target, request: bytes) -> Answer:
    """Send ``request`` as is; the status and the JSON ``error`` slug (``None`` if not JSON)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", target.gw.server.port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(30):
            response = await reader.read()
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    try:
        return status, json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return status, None


def http(
    method: str,
    path: str,
    body: bytes | Callable[[Target], bytes] = b"",
    *,
    token: Callable[[Target], str] | None = Target.token,
    content_type: str = "application/json",
) -> Send:
    """A request with ``Connection: close`` (``token`` as Bearer; ``None``: none)."""

    async def send(target: Target) -> Answer:
        payload = body(target) if callable(body) else body
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token(target)}")
        lines += [f"Content-Type: {content_type}", f"Content-Length: {len(payload)}", "", ""]
        return await exchange(target, "\r\n".join(lines).encode("latin-1") + payload)

    return send


def raw(request: bytes) -> Send:
    async def send(target: Target) -> Answer:
        return await exchange(target, request)

    return send


def offer(change: Callable[[str], str] | None = None, **fields: Any) -> Callable[[Target], bytes]:
    """An offer body: the real offer (changed by ``change``) with ``fields`` over it."""

    def body(target: Target) -> bytes:
        sdp = target.offer if change is None else change(target.offer)
        extra = {k: target.victim_room if v == "VICTIM" else v for k, v in fields.items()}
        return json.dumps({"sdp": sdp, "type": "offer", **extra}).encode()

    return body


def sdp(pattern: str, replacement: str) -> Callable[[Target], bytes]:
    """The real offer with ``pattern`` replaced."""
    return offer(lambda text: re.sub(pattern, replacement, text))


# ---- the cases ------------------------------------------------------------------------------

BEFORE_HELLO: list[tuple[str, str | bytes, int, str]] = [
    ("audio before hello", b"\x00\x00", 4400, "expected_hello"),
    ("not JSON", "{not json", 4400, "invalid_json"),
    ("JSON nested 4000 deep", DEEP, 4400, "invalid_json"),
    (
        "a 5000-digit sample rate",
        '{"type":"hello","sample_rate":' + HUGE_INT + "}",
        4400,
        "invalid_json",
    ),
    ("a JSON array", "[1, 2]", 4400, "invalid_message"),
    ("a numeric type", '{"type": 7}', 4400, "invalid_message"),
    ("interrupt first", '{"type":"interrupt"}', 4400, "expected_hello"),
    ("sample rate as text", '{"type":"hello","sample_rate":"16000"}', 4400, "bad_hello"),
    ("44.1 kHz", '{"type":"hello","sample_rate":44100}', 4400, "unsupported_sample_rate"),
    ("stereo", '{"type":"hello","sample_rate":16000,"channels":2}', 4400, "unsupported_channels"),
    ("opus", '{"type":"hello","sample_rate":16000,"format":"opus"}', 4400, "unsupported_format"),
    ("a numeric room id", '{"type":"hello","sample_rate":16000,"room_id":5}', 4400, "bad_hello"),
    ("a numeric language", '{"type":"hello","sample_rate":16000,"language":5}', 4400, "bad_hello"),
    (
        "a language tiny.en does not know",
        '{"type":"hello","sample_rate":16000,"language":"fr"}',
        4400,
        "unsupported_language",
    ),
    ("text over 8 KiB", json.dumps({"type": "hello", "pad": "x" * 9000}), 1009, "message_too_big"),
    ("someone else's room", hello_in("VICTIM"), 4403, "room_forbidden"),
    ("an unknown room, not granted", hello_in("no-such-room"), 4403, "room_forbidden"),
]

IN_SESSION: list[tuple[str, str, int, str, bool]] = [
    ("an unknown type", '{"type":"dance"}', 1, "unknown_type", False),
    ("a second hello", HELLO, 1, "duplicate_hello", False),
    ("JSON nested 4000 deep, in session", DEEP, 1, "invalid_json", False),
    (
        "a 5000-digit integer, in session",
        '{"type":"bye","n":' + HUGE_INT + "}",
        1,
        "invalid_json",
        False,
    ),
    ("21 bad messages", '{"type":"dance"}', 21, "unknown_type", True),
]

BAD_TOKENS: list[tuple[str, Send]] = [
    ("no token", ws(HELLO, token=None)),
    ("a forged token", ws(HELLO, token=literal("eyJzdWIiOiJhZG1pbiJ9.Zm9yZ2Vk"))),
    ("a non-ASCII signature", ws(HELLO, token=literal("eyJzdWIiOiJ4In0.%C3%A9%C3%A9"))),
    ("an expired token", ws(HELLO, token=expired)),
    ("another server's token", ws(HELLO, token=other_servers)),
    ("a garbage subprotocol", ws(HELLO, token=None, subprotocols=["voicegate.token.garbage"])),
    (
        "Basic credentials",
        ws(HELLO, token=None, additional_headers={"Authorization": "Basic eDp5"}),
    ),
]

HTTP: list[tuple[str, Send, int, str | None]] = [
    ("an offer without a token", http("POST", OFFER, offer(), token=None), 401, "unauthorized"),
    (
        "a non-ASCII query token",
        http("POST", OFFER + "?token=a.%C3%A9", offer(), token=None),
        401,
        "unauthorized",
    ),
    (
        "an offer as text/plain",
        http("POST", OFFER, offer(), content_type="text/plain"),
        415,
        "unsupported_media_type",
    ),
    ("an offer that is not JSON", http("POST", OFFER, b"{not json"), 400, "bad_request"),
    (
        "an offer nested 30000 deep",
        http("POST", OFFER, b"[" * 30000 + b"]" * 30000),
        400,
        "bad_request",
    ),
    (
        "a 5000-digit number",
        http("POST", OFFER, b'{"sdp": ' + HUGE_INT.encode() + b"}"),
        400,
        "bad_request",
    ),
    ("an offer that is an array", http("POST", OFFER, b"[]"), 400, "bad_request"),
    ("an offer without sdp", http("POST", OFFER, b'{"type": "offer"}'), 400, "bad_request"),
    ("an answer as offer", http("POST", OFFER, offer(type="answer")), 400, "bad_request"),
    ("an offer with a numeric room", http("POST", OFFER, offer(room_id=5)), 400, "bad_request"),
    ("an offer with language 5", http("POST", OFFER, offer(language=5)), 400, "bad_request"),
    (
        "an offer in a language tiny.en does not know",
        http("POST", OFFER, offer(language="fr")),
        400,
        "bad_request",
    ),
    (
        "an offer over 64 KiB",
        http("POST", OFFER, offer(pad="x" * 70000)),
        413,
        "request_entity_too_large",
    ),
    (
        "a 5000-digit Content-Length",
        raw(f"POST {OFFER} HTTP/1.1\r\nHost: x\r\nContent-Length: {HUGE_INT}\r\n\r\n".encode()),
        400,
        None,
    ),
    ("a malformed request line", raw(b"GARBAGE\r\n\r\n"), 400, None),
    ("an offer by GET", http("GET", OFFER), 405, "method_not_allowed"),
    (
        "someone else's room by offer",
        http("POST", OFFER, offer(room_id="VICTIM")),
        403,
        "forbidden",
    ),
    (
        "a garbage DTLS fingerprint",
        http("POST", OFFER, sdp(FINGERPRINT, "a=fingerprint:sha-256 junk")),
        400,
        "bad_request",
    ),
    (
        "an md5 DTLS fingerprint",
        http("POST", OFFER, sdp(FINGERPRINT, "a=fingerprint:md5 " + ":".join(["AB"] * 16))),
        400,
        "bad_request",
    ),
    ("no DTLS role", http("POST", OFFER, sdp(r"a=setup:\S+\r\n", "")), 400, "bad_request"),
    (
        "BUNDLE names a missing mid",
        http("POST", OFFER, sdp("a=mid:0", "a=mid::::")),
        400,
        "bad_request",
    ),
    (
        "audio without a direction",
        http("POST", OFFER, sdp("a=sendrecv", "a=sHndrecv")),
        400,
        "bad_request",
    ),
    (
        "half an msid",
        http("POST", OFFER, sdp(r"a=msid:(\S+) \S+", r"a=msid:\1 ")),
        400,
        "bad_request",
    ),
    ("SDP that is not SDP", http("POST", OFFER, offer(lambda text: "hello")), 400, "bad_request"),
    ("renewal without a token", http("POST", "/token/renew", token=None), 401, "unauthorized"),
    (
        "renewal of an expired token",
        http("POST", "/token/renew", token=expired),
        401,
        "unauthorized",
    ),
    ("renewal by GET", http("GET", "/token/renew"), 405, "method_not_allowed"),
    (
        "renewal with a 2 KiB body",
        http("POST", "/token/renew", b"x" * 2048),
        413,
        "request_entity_too_large",
    ),
    ("a plain GET of the WebSocket", http("GET", "/ws", token=None), 426, "upgrade_required"),
    (
        "path traversal",
        http("GET", "/static/%2e%2e/%2e%2e/etc/passwd", token=None),
        404,
        "not_found",
    ),
]

CASES: list[Case] = [
    *(Case(name, ws(message), ((code, reason),)) for name, message, code, reason in BEFORE_HELLO),
    Case("a message over 1 MiB", code_only(ws("x" * (2**20 + 1))), ((1009,),)),
    Case("no hello at all", ws(), ((4408, "hello_timeout"),)),
    Case(
        "a granted room that is gone",
        ws(hello_in("gone"), token=lambda t: t.token(rooms=["gone"])),
        ((4404, "room_not_found"),),
    ),
    Case("a partial sample", ws(HELLO, b"\x00\x00\x00"), ((1007, "partial_sample"),)),
    Case("a 40000-byte frame", ws(HELLO, bytes(40000)), ((1009, "frame_too_big"),)),
    *(
        Case(
            name,
            in_session(message, repeat),
            ((code, fatal, (4400, code) if fatal else (1000, "bye")),),
        )
        for name, message, repeat, code, fatal in IN_SESSION
    ),
    *(Case(name, send, ((4401, "unauthorized"),)) for name, send in BAD_TOKENS),
    *(Case(name, send, ((status, slug),)) for name, send, status, slug in HTTP),
]


def mutated_offer_cases(mutations: list[str]) -> list[Case]:
    """Mutated real offers: each is answered (a session that never connects and ends after
    the connect timeout) or refused with 400, never 500."""
    return [
        Case(
            f"mutated offer {n}",
            http("POST", OFFER, json.dumps({"sdp": text, "type": "offer"}).encode()),
            ((200, None), (400, "bad_request")),
        )
        for n, text in enumerate(mutations)
    ]

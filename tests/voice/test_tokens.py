"""Signed tokens: carriers, expiry, tampering, the room claim, renewal and hostile signatures."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from tests.voice.test_auth import SECRET, request_with
from voicegate.voice.access import ANY_ROOM
from voicegate.voice.http import HttpRequest
from voicegate.voice.tokens import TokenAuth, TokenRenewal


class Clock:
    """A settable clock for token expiry."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(clock: Clock) -> TokenAuth:
    return TokenAuth(SECRET, ttl=60, clock=clock)


def _payload(token: str) -> dict[str, object]:
    encoded = token.split(".")[0]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(encoded + "=="))
    return decoded


async def test_valid_token_in_query(tokens: TokenAuth, clock: Clock) -> None:
    token = tokens.issue("ada", {"plan": "pro"}, rooms=["r2", "r1"], owner="ada-rooms")
    meta = await tokens(request_with({"token": token}))
    assert meta == {
        "subject": "ada",
        "owner": "ada-rooms",
        "rooms": ["r1", "r2"],
        "claims": {"plan": "pro"},
        "expires_at": clock.now + 60,
    }


async def test_a_token_lists_no_room_unless_given_and_every_token_owns_its_own_rooms(
    tokens: TokenAuth,
) -> None:
    first, second = tokens.verify(tokens.issue("ada")), tokens.verify(tokens.issue("ada"))
    assert first is not None
    assert second is not None
    assert first["rooms"] == second["rooms"] == []
    assert first["owner"] != second["owner"]
    everywhere = tokens.verify(tokens.issue("admin", any_room=True))
    assert everywhere is not None
    assert everywhere["rooms"] == ANY_ROOM
    with pytest.raises(TypeError, match="not one string"):
        tokens.issue("ada", rooms="r1")


async def test_valid_token_in_subprotocol(tokens: TokenAuth) -> None:
    token = tokens.issue("ada")
    meta = await tokens(request_with(Sec_WebSocket_Protocol=f"chat, voicegate.token.{token}"))
    assert meta is not None
    assert meta["subject"] == "ada"


async def test_valid_token_in_bearer_header(tokens: TokenAuth) -> None:
    meta = await tokens(request_with(authorization=f"Bearer {tokens.issue('bob')}"))
    assert meta is not None
    assert meta["subject"] == "bob"


async def test_expired_token_rejected(
    tokens: TokenAuth, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.issue("ada", ttl=5)
    clock.now += 5
    with caplog.at_level(logging.INFO, logger="voicegate.voice.tokens"):
        assert await tokens(request_with({"token": token})) is None
    assert "expired" in caplog.text
    assert token not in caplog.text


async def test_tampered_token_rejected(tokens: TokenAuth) -> None:
    token = tokens.issue("ada")
    payload, signature = token.split(".")
    forged_payload = TokenAuth(b"another-secret-of-16b", clock=Clock()).issue("admin").split(".")[0]
    assert await tokens(request_with({"token": f"{forged_payload}.{signature}"})) is None
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert await tokens(request_with({"token": f"{payload}.{flipped}"})) is None
    assert await tokens(request_with({"token": payload})) is None
    assert await tokens(request_with({"token": "not a token at all"})) is None


@pytest.mark.parametrize(
    "hostile",
    ["é", "ü" * 43, "\u202e", "\x00"],
    ids=["accent", "long-umlauts", "bidi-override", "nul"],
)
async def test_a_non_ascii_signature_is_a_clean_rejection_on_one_line(
    tokens: TokenAuth, caplog: pytest.LogCaptureFixture, hostile: str
) -> None:
    """It used to raise TypeError inside hmac.compare_digest: "auth callback raised"."""
    payload = tokens.issue("ada").split(".")[0]
    with caplog.at_level(logging.INFO):
        assert await tokens(request_with({"token": f"{payload}.{hostile}"})) is None
        assert await tokens(request_with({"token": f"{payload}é.{hostile}"})) is None
    assert [r.getMessage() for r in caplog.records] == [
        "token rejected: bad signature or malformed token"
    ] * 2
    assert all(r.exc_info is None for r in caplog.records)


@pytest.mark.parametrize(
    "payload",
    [
        {"sub": "ada", "exp": 2e6, "claims": {}},  # the format before rooms: no owner, no rooms
        {"sub": "ada", "owner": "o", "rooms": "r1", "iat": 1, "exp": 2e6, "claims": {}},
        {"sub": "ada", "owner": "o", "rooms": [1], "iat": 1, "exp": 2e6, "claims": {}},
        {"sub": "ada", "owner": "o", "rooms": [], "iat": 1, "exp": True, "claims": {}},
        ["not", "an", "object"],
    ],
    ids=["old-format", "rooms-string", "rooms-not-ids", "bool-exp", "array"],
)
async def test_a_signed_payload_of_the_wrong_shape_is_rejected(payload: object) -> None:
    """Even signed with the right secret, which only a buggy minter would do."""
    tokens = TokenAuth(SECRET, ttl=60, clock=Clock())
    token = tokens._encode(payload)  # type: ignore[arg-type]
    assert tokens.verify(token) is None


async def test_missing_token_rejected(tokens: TokenAuth) -> None:
    assert await tokens(request_with()) is None
    assert await tokens(request_with(authorization="Basic dXNlcjpwYXNz")) is None
    assert await tokens(object()) is None


async def test_wrong_secret_rejected(tokens: TokenAuth, clock: Clock) -> None:
    other = TokenAuth(b"a-different-secret-entirely", clock=clock)
    assert await tokens(request_with({"token": other.issue("ada")})) is None


def test_weak_configuration_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        TokenAuth(b"short")
    with pytest.raises(ValueError, match="ttl must be positive"):
        TokenAuth(SECRET, ttl=0)


async def test_renewal_keeps_subject_owner_rooms_claims_and_lifetime(
    tokens: TokenAuth, clock: Clock
) -> None:
    token = tokens.issue("ada", {"plan": "pro"}, ttl=600, rooms=["r1"])
    clock.now += 500
    renewed = tokens.renew(token)
    assert renewed is not None
    fresh, expires_at = renewed
    assert expires_at == clock.now + 600
    before, after = _payload(token), _payload(fresh)
    assert {k: after[k] for k in ("sub", "owner", "rooms", "claims")} == {
        k: before[k] for k in ("sub", "owner", "rooms", "claims")
    }
    clock.now += 599
    assert tokens.verify(token) is None
    assert tokens.verify(fresh) is not None
    clock.now += 1
    assert tokens.renew(fresh) is None  # expired: renew before, never after


async def test_the_renewal_endpoint_answers_a_fresh_token_or_401(
    tokens: TokenAuth, clock: Clock
) -> None:
    endpoint = TokenRenewal(tokens)
    token = tokens.issue("ada", rooms=["r1"])
    reply = await endpoint.respond(
        HttpRequest(
            "POST", "/token/renew", headers=request_with(authorization=f"Bearer {token}").headers
        )
    )
    assert reply.status == 200
    assert reply.body["expires_at"] == clock.now + 60
    renewed = tokens.verify(reply.body["token"])
    assert renewed is not None
    assert (renewed["subject"], renewed["rooms"]) == ("ada", ["r1"])
    for query in ({}, {"token": "forged.token"}, {"token": tokens.issue("ada", ttl=-1)}):
        refused = await endpoint.respond(HttpRequest("POST", "/token/renew", query=query))
        assert (refused.status, refused.body["error"]) == (401, "unauthorized")

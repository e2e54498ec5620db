"""SIP digest authentication: RFC 2617's example, and the callback's verdicts."""

from __future__ import annotations

from voicegate.telephony.sip.digest import SIPDigestAuth, credentials, digest_response
from voicegate.telephony.sip.message import SIPHeaders, SIPRequest

URI = "sip:room@192.0.2.1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_rfc_2617_example() -> None:
    response = digest_response(
        "Mufasa",
        "Circle Of Life",
        "testrealm@host.com",
        "GET",
        "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def invite(authorization: str | None = None) -> SIPRequest:
    headers = SIPHeaders([("Via", "SIP/2.0/UDP 198.51.100.2;branch=z9hG4bK1")])
    if authorization is not None:
        headers.add("Authorization", authorization)
    return SIPRequest("INVITE", URI, headers)


def answer(challenge: str, user: str, password: str, realm: str = "voicegate") -> str:
    nonce = challenge.split('nonce="')[1].split('"')[0]
    response = digest_response(
        user, password, realm, "INVITE", URI, nonce, qop="auth", nc="00000001", cnonce="c0ffee"
    )
    return (
        f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{URI}", '
        f'response="{response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"'
    )


async def test_the_password_is_accepted_and_anything_else_refused() -> None:
    auth = SIPDigestAuth({"alice": "wonderland"})
    challenge = auth.challenge(invite())
    assert challenge.startswith('Digest realm="voicegate", nonce="')
    assert 'qop="auth"' in challenge
    assert await auth(invite()) is None
    assert await auth(invite(answer(challenge, "alice", "wonderland"))) == {
        "subject": "alice",
        "sip_user": "alice",
        "rooms": "*",
    }
    assert await auth(invite(answer(challenge, "alice", "guess"))) is None
    assert await auth(invite(answer(challenge, "mallory", "wonderland"))) is None
    assert await auth(invite(answer(challenge, "alice", "wonderland", realm="other"))) is None
    forged = answer(challenge, "alice", "wonderland").replace('nonce="', 'nonce="0')
    assert await auth(invite(forged)) is None
    assert await auth("not a request") is None


async def test_an_expired_nonce_is_refused_and_challenged_again_as_stale() -> None:
    clock = Clock()
    auth = SIPDigestAuth({"alice": "wonderland"}, nonce_ttl=60, clock=clock)
    late = invite(answer(auth.challenge(invite()), "alice", "wonderland"))
    clock.now += 61
    assert await auth(late) is None
    assert auth.challenge(late).endswith("stale=true")
    wrong = invite(answer(auth.challenge(invite()), "alice", "guess"))
    clock.now += 61
    assert not auth.challenge(wrong).endswith("stale=true")  # stale only for the right password


def test_credentials_keep_quoted_commas_and_semicolons() -> None:
    fields = credentials(invite('Digest username="a,b", uri="sip:x;transport=tcp", nc=00000001'))
    assert fields == {"username": "a,b", "uri": "sip:x;transport=tcp", "nc": "00000001"}
    assert credentials(invite("Basic YWxpY2U6d29uZGVybGFuZA==")) is None

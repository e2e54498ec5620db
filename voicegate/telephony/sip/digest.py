"""SIP digest authentication (RFC 2617's MD5 digest as RFC 3261 uses it) as an AuthCallback.

Nonces are stateless: the time they were made and an HMAC of it under a secret of the
process, so any nonce this server handed out in the last ``nonce_ttl`` seconds is known
again without a table, and a forged or expired one is not.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from voicegate.telephony.sip.message import SIPRequest, split_values
from voicegate.voice.access import ANY_ROOM, ROOMS_KEY

logger = logging.getLogger(__name__)


@runtime_checkable
class Challenger(Protocol):
    """An auth callback that can say how to authenticate (a ``WWW-Authenticate`` value);
    a rejected request then gets 401 with it instead of 403."""

    def challenge(self, request: SIPRequest) -> str:
        """The ``WWW-Authenticate`` header for a 401 answering ``request``."""
        ...


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_response(
    username: str,
    password: str,
    realm: str,
    method: str,
    uri: str,
    nonce: str,
    *,
    qop: str = "",
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The ``response`` a client computes (RFC 2617 3.2.2, MD5)."""
    ha1 = _md5(f"{username}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    if qop:
        return _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _md5(f"{ha1}:{nonce}:{ha2}")


def credentials(request: SIPRequest) -> dict[str, str] | None:
    """The fields of the request's ``Authorization: Digest ...`` header, if it has one."""
    scheme, _, rest = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "digest":
        return None
    fields = {}
    for field in split_values(rest):
        name, _, value = field.partition("=")
        fields[name.strip().lower()] = value.strip().strip('"')
    return fields


class SIPDigestAuth:
    """An ``AuthCallback`` for SIP requests: digest credentials of ``users`` (name to password)
    in ``realm``. Accepted metadata: ``{"subject": user, "sip_user": user, "rooms": "*"}``: a
    configured user (a trunk, a PBX) may put its calls into any room (``voicegate.voice.access``).

    It is a :class:`Challenger`: the SIP server answers a request without valid credentials
    with 401 and a fresh challenge (``stale=true`` when only the nonce had expired).
    """

    def __init__(
        self,
        users: Mapping[str, str],
        realm: str = "voicegate",
        *,
        nonce_ttl: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._users = dict(users)
        self.realm = realm
        self._nonce_ttl = nonce_ttl
        self._clock = clock
        self._secret = secrets.token_bytes(32)

    def challenge(self, request: SIPRequest) -> str:
        """A ``WWW-Authenticate`` value with a fresh nonce."""
        fields = credentials(request)
        stale = fields is not None and self._nonce_age(fields.get("nonce", "")) is None
        stale = stale and fields is not None and self._response_ok(request, fields)
        suffix = ", stale=true" if stale else ""
        return (
            f'Digest realm="{self.realm}", nonce="{self._nonce()}", algorithm=MD5, '
            f'qop="auth"{suffix}'
        )

    async def __call__(self, context: Any) -> dict[str, Any] | None:
        """The user's metadata when ``context`` (a :class:`SIPRequest`) proves the password."""
        if not isinstance(context, SIPRequest):
            return None
        fields = credentials(context)
        if fields is None:
            return None
        if fields.get("realm") != self.realm or self._nonce_age(fields.get("nonce", "")) is None:
            logger.info("SIP digest refused: wrong realm or an unknown or expired nonce")
            return None
        if not self._response_ok(context, fields):
            logger.info("SIP digest refused for user %r", fields.get("username", ""))
            return None
        user = fields["username"]
        return {"subject": user, "sip_user": user, ROOMS_KEY: ANY_ROOM}

    def _response_ok(self, request: SIPRequest, fields: dict[str, str]) -> bool:
        password = self._users.get(fields.get("username", ""))
        algorithm = fields.get("algorithm", "MD5").upper()
        if password is None or algorithm != "MD5" or fields.get("qop", "auth") != "auth":
            return False
        expected = digest_response(
            fields["username"],
            password,
            self.realm,
            request.method,
            fields.get("uri", ""),
            fields.get("nonce", ""),
            qop=fields.get("qop", ""),
            nc=fields.get("nc", ""),
            cnonce=fields.get("cnonce", ""),
        )
        return hmac.compare_digest(expected, fields.get("response", ""))

    def _nonce(self) -> str:
        made = format(int(self._clock()), "x")
        return f"{made}.{self._sign(made)}"

    def _nonce_age(self, nonce: str) -> float | None:
        """Seconds since this server made ``nonce``; ``None`` if it did not, or too long ago."""
        made, _, signature = nonce.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(made)):
            return None
        age = self._clock() - int(made, 16)
        return age if 0 <= age <= self._nonce_ttl else None

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()[:32]

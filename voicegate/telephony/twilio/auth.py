"""Who may open a Twilio stream: Twilio's request signature, or a voicegate token.

Twilio signs each webhook and each stream's WebSocket upgrade with ``X-Twilio-Signature``:
base64 HMAC-SHA1, under the account's auth token, of the URL it requested followed by every
POST parameter's name and value, sorted by name. Two ``AuthCallback``\\ s are shipped: one
checks that signature, the other a voicegate token that the TwiML webhook put in the
stream's custom parameters (Twilio allows no query string on a stream URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from voicegate.telephony.twilio.messages import StreamStarted
from voicegate.voice.access import ANY_ROOM, ROOMS_KEY
from voicegate.voice.http import HttpRequest
from voicegate.voice.tokens import TokenAuth

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
TOKEN_PARAMETER = "token"
"""The stream's custom parameter that carries a voicegate token."""


@dataclass(frozen=True, slots=True)
class TwilioStreamRequest:
    """What a stream's ``AuthCallback`` sees: the WebSocket upgrade request and the stream's
    ``start`` (ids, custom parameters)."""

    http: HttpRequest
    start: StreamStarted


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """Twilio's signature of a request for ``url`` with POST ``params``."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def request_url(request: HttpRequest, public_url: str | None, *, websocket: bool = False) -> str:
    """The URL a client asked for: ``public_url`` (``https://host``, where the server is
    reached from outside) or else the ``Host`` header, then the path and query. For a
    WebSocket the scheme is ``ws``/``wss``."""
    base = (public_url or f"http://{request.headers.get('Host', 'localhost')}").rstrip("/")
    if websocket:
        base = "ws" + base.removeprefix("http")
    query = f"?{urlencode(request.query)}" if request.query else ""
    return f"{base}{request.path}{query}"


class TwilioSignatureAuth:
    """An ``AuthCallback`` accepting what Twilio signed with the account's ``auth_token``.

    It takes a :class:`TwilioStreamRequest` (the signature of the upgrade request, whose
    URL has the ``wss``/``ws`` scheme) or an :class:`HttpRequest` with a form body (a
    webhook). ``public_url`` is the scheme and host Twilio uses to reach voicegate (set it
    behind a proxy or TLS terminator); without it the ``Host`` header is used. Accepted
    metadata: ``{"subject": <caller or call sid>, "twilio": {<call's sids>}, "rooms": "*"}``:
    what the account's own Twilio number sends may enter any room (``voicegate.voice.access``).
    """

    def __init__(self, auth_token: str, public_url: str | None = None) -> None:
        if not auth_token:
            raise ValueError("TwilioSignatureAuth needs the account's auth token")
        self._auth_token = auth_token
        self._public_url = public_url

    def valid(
        self, request: HttpRequest, params: Iterable[tuple[str, str]], websocket: bool
    ) -> bool:
        """Whether ``request`` carries Twilio's signature of its URL and ``params``."""
        given = request.headers.get(SIGNATURE_HEADER, "")
        url = request_url(request, self._public_url, websocket=websocket)
        expected = twilio_signature(self._auth_token, url, params)
        if given and hmac.compare_digest(given, expected):
            return True
        logger.info("request for %s without a valid %s", url, SIGNATURE_HEADER)
        return False

    async def __call__(self, context: Any) -> dict[str, Any] | None:
        """The caller's metadata when Twilio signed ``context``, else ``None``."""
        if isinstance(context, TwilioStreamRequest):
            if not self.valid(context.http, (), websocket=True):
                return None
            start = context.start
            sids = {"call_sid": start.call_sid, "account_sid": start.account_sid}
            return {"subject": start.call_sid, "twilio": sids, ROOMS_KEY: ANY_ROOM}
        if isinstance(context, HttpRequest):
            params = form_params(context.body)
            if not self.valid(context, params, websocket=False):
                return None
            fields = dict(params)
            sids = {
                "call_sid": fields.get("CallSid", ""),
                "account_sid": fields.get("AccountSid", ""),
            }
            caller = fields.get("From") or sids["call_sid"]
            return {"subject": caller, "twilio": sids, ROOMS_KEY: ANY_ROOM}
        return None


class TwilioTokenAuth:
    """An ``AuthCallback`` for streams: the voicegate token in the stream's ``token`` custom
    parameter (which ``TwiMLEndpoint`` issues), verified by ``tokens``."""

    def __init__(self, tokens: TokenAuth) -> None:
        self._tokens = tokens

    async def __call__(self, context: Any) -> dict[str, Any] | None:
        """The token's metadata, or ``None`` without a valid one."""
        if not isinstance(context, TwilioStreamRequest):
            return None
        token = context.start.custom_parameters.get(TOKEN_PARAMETER)
        if not token:
            logger.info("Twilio stream %s without a token", context.start.stream_sid)
            return None
        return self._tokens.verify(token)


def form_params(body: bytes) -> list[tuple[str, str]]:
    """The fields of a form-encoded body (Twilio's webhooks), in order."""
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)

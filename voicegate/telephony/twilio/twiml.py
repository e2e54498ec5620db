"""``POST /twilio/voice``: the webhook of a Twilio number, answered with TwiML that connects
the call to voicegate's Media Stream WebSocket."""

from __future__ import annotations

import logging
from xml.sax.saxutils import quoteattr

from voicegate.telephony.twilio.auth import (
    TOKEN_PARAMETER,
    TwilioSignatureAuth,
    form_params,
    request_url,
)
from voicegate.voice.http import HttpReply, HttpRequest
from voicegate.voice.tokens import TokenAuth

logger = logging.getLogger(__name__)

ROOM_PARAMETER = "room_id"
"""The stream's custom parameter (and the webhook's query parameter) naming the room."""
TWIML_MEDIA_TYPE = "text/xml"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


class TwiMLEndpoint:
    """Answers Twilio's voice webhook with ``<Connect><Stream>`` to ``stream_path``.

    The request must carry Twilio's signature (``signature``); without one configured,
    only ``allow_unsigned`` (loopback tests) lets it through, else it is refused (403).
    The TwiML passes a fresh voicegate token for the caller (``tokens``, subject: the
    caller's number; it grants the room of ``?room_id=`` on the webhook URL, if any) and
    that room, as the stream's custom parameters. ``public_url`` is where Twilio reaches voicegate (``https://host``);
    without it the stream URL is built from the request's ``Host`` header.
    """

    max_body_bytes = 65536

    def __init__(
        self,
        tokens: TokenAuth | None,
        *,
        signature: TwilioSignatureAuth | None = None,
        allow_unsigned: bool = False,
        public_url: str | None = None,
        stream_path: str = "/twilio/stream",
        path: str = "/twilio/voice",
    ) -> None:
        self._tokens = tokens
        self._signature = signature
        self._allow_unsigned = allow_unsigned
        self._public_url = public_url
        self._stream_path = stream_path
        self._path = path

    @property
    def path(self) -> str:
        """Where the webhook is served."""
        return self._path

    async def respond(self, request: HttpRequest) -> HttpReply:
        """The TwiML for the call the webhook announces, or 403 when it is not Twilio's."""
        if self._signature is not None:
            if await self._signature(request) is None:
                return HttpReply.error(403, "the request does not carry Twilio's signature")
        elif not self._allow_unsigned:
            logger.warning("Twilio webhook refused: no auth token is configured to check it")
            return HttpReply.error(403, "no Twilio auth token is configured on this server")
        fields = dict(form_params(request.body))
        parameters: dict[str, str] = {}
        room_id = request.query.get(ROOM_PARAMETER)
        if self._tokens is not None:
            caller = fields.get("From") or "twilio"
            claims = {"call_sid": fields.get("CallSid", "")}
            rooms = [room_id] if room_id else []
            parameters[TOKEN_PARAMETER] = self._tokens.issue(caller, claims, rooms=rooms)
        if room_id:
            parameters[ROOM_PARAMETER] = room_id
        return HttpReply(
            200, self._twiml(self._stream_url(request), parameters), {}, TWIML_MEDIA_TYPE
        )

    def _stream_url(self, request: HttpRequest) -> str:
        """The stream's ``wss://`` URL beside this webhook (under the same mount prefix)."""
        prefix = request.path.removesuffix(self._path)
        stream = HttpRequest("GET", prefix + self._stream_path, headers=request.headers)
        return request_url(stream, self._public_url, websocket=True)

    @staticmethod
    def _twiml(url: str, parameters: dict[str, str]) -> str:
        elements = "".join(
            f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
            for name, value in parameters.items()
        )
        stream = f"<Stream url={quoteattr(url)}>{elements}</Stream>"
        return f"{XML_DECLARATION}<Response><Connect>{stream}</Connect></Response>"

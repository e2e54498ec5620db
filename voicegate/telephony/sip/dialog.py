"""Sans-I/O pieces of a SIP user agent server: responses to requests, and the dialog a call
is, with the requests voicegate sends inside it (BYE)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from voicegate.telephony.sip.fields import SIPURI, NameAddress, Via
from voicegate.telephony.sip.message import SIPHeaders, SIPRequest, SIPResponse

USER_AGENT = "voicegate"
BRANCH_COOKIE = "z9hG4bK"
"""RFC 3261's magic cookie: a branch that starts with it identifies its transaction."""
ALLOWED_METHODS = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"
REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    481: "Call/Transaction Does Not Exist",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
}


def new_tag() -> str:
    """A fresh From/To tag."""
    return secrets.token_hex(6)


def new_branch() -> str:
    """A fresh transaction branch."""
    return BRANCH_COOKIE + secrets.token_hex(8)


def make_response(
    request: SIPRequest,
    status: int,
    *,
    to_tag: str = "",
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str = "application/sdp",
) -> SIPResponse:
    """The response ``status`` to ``request``: its Vias (the top one marked with where the
    request came from, RFC 3581), From, To (with ``to_tag`` if it has none), Call-ID, CSeq."""
    fields = SIPHeaders()
    for index, value in enumerate(request.headers.values("Via")):
        fields.add("Via", _received(value, request) if index == 0 else value)
    to = request.headers.get("To") or ""
    if to_tag and "tag=" not in to.lower():
        to = f"{to};tag={to_tag}"
    for name in ("From", "Call-ID", "CSeq"):
        if (copied := request.headers.get(name)) is not None:
            fields.add(name, copied)
    fields.add("To", to)
    fields.add("Server", USER_AGENT)
    for name, value in headers:
        fields.add(name, value)
    if body:
        fields.add("Content-Type", content_type)
    return SIPResponse(status, REASONS.get(status, "Unknown"), fields, body)


def _received(value: str, request: SIPRequest) -> str:
    if request.remote_address is None:
        return value
    try:
        via = Via.parse(value)
    except ValueError:
        return value
    host, port = request.remote_address
    params = dict(via.params)
    if via.host != host:
        params["received"] = host
    if "rport" in params:
        params["rport"] = str(port)
    return str(Via(via.transport, via.host, via.port, params))


@dataclass(slots=True)
class Dialog:
    """One call's dialog, from voicegate's side: the caller is ``remote``, voicegate ``local``.

    ``remote_target`` is where in-dialog requests go (the caller's Contact); ``contact`` is
    voicegate's own Contact URI.
    """

    call_id: str
    local: NameAddress
    remote: NameAddress
    remote_target: SIPURI
    contact: str
    remote_cseq: int
    local_cseq: int = 1

    @classmethod
    def accept(cls, invite: SIPRequest, contact: str) -> Dialog:
        """The dialog an INVITE starts, with a fresh local tag."""
        remote = NameAddress.parse(invite.headers.get("From") or "")
        local = NameAddress.parse(invite.headers.get("To") or "").with_tag(new_tag())
        contacts = invite.headers.values("Contact")
        target = NameAddress.parse(contacts[0]).uri if contacts else remote.uri
        cseq = int((invite.headers.get("CSeq") or "0").split()[0])
        return cls(invite.headers.get("Call-ID") or "", local, remote, target, contact, cseq)

    @property
    def local_tag(self) -> str:
        """voicegate's tag (the To tag of its responses)."""
        return self.local.tag

    def matches(self, request: SIPRequest) -> bool:
        """Whether ``request`` belongs to this dialog (Call-ID and both tags)."""
        try:
            from_tag = NameAddress.parse(request.headers.get("From") or "").tag
            to_tag = NameAddress.parse(request.headers.get("To") or "").tag
        except ValueError:
            return False
        return (request.headers.get("Call-ID"), from_tag, to_tag) == (
            self.call_id,
            self.remote.tag,
            self.local_tag,
        )

    def request(self, method: str, transport: str, host: str, port: int) -> SIPRequest:
        """A new request inside the dialog (BYE), sent over ``transport`` from ``host:port``."""
        self.local_cseq += 1
        fields = SIPHeaders(
            [
                ("Via", f"SIP/2.0/{transport.upper()} {host}:{port};branch={new_branch()};rport"),
                ("Max-Forwards", "70"),
                ("From", str(self.local)),
                ("To", str(self.remote)),
                ("Call-ID", self.call_id),
                ("CSeq", f"{self.local_cseq} {method}"),
                ("Contact", f"<{self.contact}>"),
                ("User-Agent", USER_AGENT),
            ]
        )
        return SIPRequest(method, str(self.remote_target), fields)

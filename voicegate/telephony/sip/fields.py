"""The structured values of SIP headers: URIs, name-addresses (From, To, Contact) and Via."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voicegate.telephony.sip.message import SIPParseError

_URI = re.compile(
    r"^(?P<scheme>sips?|tel):(?:(?P<user>[^@;?]*)@)?(?P<host>\[[^\]]+\]|[^:;?]+)"
    r"(?::(?P<port>\d+))?(?P<params>;[^?]*)?(?:\?(?P<headers>.*))?$",
    re.IGNORECASE,
)
_NAME_ADDR = re.compile(
    r'^\s*(?P<display>"(?:[^"\\]|\\.)*"|[^<"]*?)\s*<(?P<uri>[^>]*)>(?P<params>.*)$'
)
_VIA = re.compile(
    r"^SIP\s*/\s*2\.0\s*/\s*(?P<transport>[A-Za-z]+)\s+(?P<host>\[[^\]]+\]|[^:;\s]+)"
    r"(?::(?P<port>\d+))?\s*(?P<params>;.*)?$"
)


def parse_params(text: str) -> dict[str, str]:
    """``;a=b;c`` as ``{"a": "b", "c": ""}`` (names lower-cased)."""
    params: dict[str, str] = {}
    for part in text.split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            params[name.lower()] = value.strip().strip('"')
    return params


def format_params(params: dict[str, str]) -> str:
    """``{"a": "b", "c": ""}`` as ``;a=b;c``."""
    return "".join(f";{name}={value}" if value else f";{name}" for name, value in params.items())


@dataclass(frozen=True, slots=True)
class SIPURI:
    """``sip:user@host:port;params``; ``port`` is ``None`` when the URI names none."""

    scheme: str
    user: str
    host: str
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SIPURI:
        """Read a URI; :class:`SIPParseError` (400) when it is not one."""
        match = _URI.match(text.strip())
        if match is None:
            raise SIPParseError(f"not a SIP URI: {text[:80]!r}")
        port = match.group("port")
        return cls(
            match.group("scheme").lower(),
            match.group("user") or "",
            match.group("host"),
            int(port) if port else None,
            parse_params(match.group("params") or ""),
        )

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}:{user}{self.host}{port}{format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class NameAddress:
    """A From, To or Contact value: display name, URI, and the header's own params (``tag``)."""

    uri: SIPURI
    display: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddress:
        """Read ``"Name" <uri>;tag=x`` or a bare ``uri;tag=x``."""
        match = _NAME_ADDR.match(text)
        if match is not None:
            uri, params = match.group("uri"), match.group("params")
            display = match.group("display").strip().strip('"')
        else:  # addr-spec: its ;params belong to the header, not the URI
            uri, _, rest = text.strip().partition(";")
            params, display = f";{rest}" if rest else "", ""
        return cls(SIPURI.parse(uri), display, parse_params(params))

    @property
    def tag(self) -> str:
        """The ``tag`` param (empty when there is none)."""
        return self.params.get("tag", "")

    def with_tag(self, tag: str) -> NameAddress:
        """A copy with ``tag`` set."""
        return NameAddress(self.uri, self.display, {**self.params, "tag": tag})

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


@dataclass(frozen=True, slots=True)
class Via:
    """One Via value: the transport, the sender's host and port, and params (``branch``)."""

    transport: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        """Read ``SIP/2.0/UDP host:port;branch=...``."""
        match = _VIA.match(text.strip())
        if match is None:
            raise SIPParseError(f"not a Via: {text[:80]!r}")
        port = match.group("port")
        return cls(
            match.group("transport").upper(),
            match.group("host"),
            int(port) if port else None,
            parse_params(match.group("params") or ""),
        )

    @property
    def branch(self) -> str:
        """The transaction's branch id."""
        return self.params.get("branch", "")

    def __str__(self) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"SIP/2.0/{self.transport} {self.host}{port}{format_params(self.params)}"

"""SIP messages and header fields, Sans-I/O: parsing, framing, writing, and what is refused."""

from __future__ import annotations

import pytest

from voicegate.telephony.sip.dialog import Dialog, make_response
from voicegate.telephony.sip.fields import SIPURI, NameAddress, Via
from voicegate.telephony.sip.message import (
    MAX_MESSAGE_BYTES,
    SIPParseError,
    SIPRequest,
    SIPResponse,
    StreamFramer,
    parse_message,
    serialize,
)

INVITE = (
    "INVITE sip:room-7@192.0.2.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 198.51.100.2:5062;branch=z9hG4bK776asdhds;rport\r\n"
    "v: SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKproxy\r\n"
    "Max-Forwards: 70\r\n"
    'f: "Alice, A." <sip:alice@198.51.100.2>;tag=1928301774\r\n'
    "To: <sip:room-7@192.0.2.1>\r\n"
    "i: a84b4c76e66710@pc33\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@198.51.100.2:5062;transport=udp>\r\n"
    "Subject: folded\r\n"
    " onto two lines\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "v=0\r\n"
)


def test_a_request_with_compact_and_folded_headers_is_read() -> None:
    request = parse_message(INVITE.encode())
    assert isinstance(request, SIPRequest)
    assert (request.method, request.uri, request.body) == (
        "INVITE",
        "sip:room-7@192.0.2.1:5060",
        b"v=0\r\n",
    )
    assert request.headers.values("Via") == [
        "SIP/2.0/UDP 198.51.100.2:5062;branch=z9hG4bK776asdhds;rport",
        "SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKproxy",
    ]
    assert request.headers.get("call-id") == "a84b4c76e66710@pc33"
    assert request.headers.get("Subject") == "folded onto two lines"
    caller = NameAddress.parse(request.headers.get("From") or "")
    assert (caller.display, caller.uri.user, caller.tag) == ("Alice, A.", "alice", "1928301774")


def test_a_written_message_reads_back_the_same() -> None:
    request = parse_message(INVITE.encode())
    assert isinstance(request, SIPRequest)
    again = parse_message(serialize(request))
    assert isinstance(again, SIPRequest)
    assert (again.method, again.uri, again.body) == (request.method, request.uri, request.body)
    assert list(again.headers) == list(request.headers)


def test_a_response_answers_its_request() -> None:
    request = parse_message(INVITE.encode())
    assert isinstance(request, SIPRequest)
    request.remote_address = ("192.0.2.50", 40000)  # behind NAT: not what its Via says
    response = make_response(request, 488, to_tag="abc")
    assert (response.status, response.reason) == (488, "Not Acceptable Here")
    vias = response.headers.values("Via")
    assert vias[0] == (
        "SIP/2.0/UDP 198.51.100.2:5062;branch=z9hG4bK776asdhds;rport=40000;received=192.0.2.50"
    )
    assert vias[1] == "SIP/2.0/UDP 203.0.113.9;branch=z9hG4bKproxy"
    assert response.headers.get("To") == "<sip:room-7@192.0.2.1>;tag=abc"
    assert response.headers.get("CSeq") == "314159 INVITE"
    written = parse_message(serialize(response))
    assert isinstance(written, SIPResponse)
    assert written.headers.get("Content-Length") == "0"


def test_the_dialog_of_an_invite_matches_its_requests_and_writes_its_bye() -> None:
    invite = parse_message(INVITE.encode())
    assert isinstance(invite, SIPRequest)
    dialog = Dialog.accept(invite, "sip:192.0.2.1:5060")
    bye = dialog.request("BYE", "udp", "192.0.2.1", 5060)
    assert bye.uri == "sip:alice@198.51.100.2:5062;transport=udp"  # the caller's Contact
    assert NameAddress.parse(bye.headers.get("From") or "").tag == dialog.local_tag
    assert NameAddress.parse(bye.headers.get("To") or "").tag == "1928301774"
    assert bye.headers.get("CSeq") == "2 BYE"
    assert Via.parse(bye.headers.get("Via") or "").branch.startswith("z9hG4bK")
    theirs = parse_message(
        INVITE.replace(
            "To: <sip:room-7@192.0.2.1>", f"To: <sip:room-7@192.0.2.1>;tag={dialog.local_tag}"
        )
        .replace("INVITE sip:", "BYE sip:")
        .replace("314159 INVITE", "314160 BYE")
        .encode()
    )
    assert isinstance(theirs, SIPRequest)
    assert dialog.matches(theirs)
    stranger = parse_message(INVITE.encode())
    assert isinstance(stranger, SIPRequest)
    assert not dialog.matches(stranger)


def test_tcp_framing_cuts_messages_by_content_length_across_reads() -> None:
    framer = StreamFramer()
    data = b"\r\n\r\n" + INVITE.encode() + INVITE.encode()  # keep-alive CRLFs first
    messages = []
    for start in range(0, len(data), 37):
        messages += framer.feed(data[start : start + 37])
    assert [m.body for m in messages] == [b"v=0\r\n", b"v=0\r\n"]  # type: ignore[union-attr]


def test_tcp_framing_needs_content_length() -> None:
    without = INVITE.replace("Content-Length: 5\r\n", "").encode()
    with pytest.raises(SIPParseError) as raised:
        StreamFramer().feed(without)
    assert raised.value.status == 400
    assert raised.value.request is not None  # it can be answered


@pytest.mark.parametrize(
    ("data", "status", "answerable"),
    [
        (b"\x00\x01\x02 not sip at all\r\n\r\n", 400, False),
        (INVITE.replace("CSeq: 314159 INVITE\r\n", "").encode(), 400, True),
        (INVITE.replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE").encode(), 400, True),
        (INVITE.replace("CSeq: 314159", "CSeq: many").encode(), 400, True),
        (INVITE.replace("Content-Length: 5", "Content-Length: 400").encode(), 400, True),
        (INVITE.replace("Content-Length: 5", "Content-Length: four").encode(), 400, True),
        (INVITE.replace(" SIP/2.0\r\n", " SIP/3.0\r\n", 1).encode(), 505, True),
        (INVITE.replace("Max-Forwards: 70", "Max Forwards 70").encode(), 400, False),
        (INVITE.encode() + b"x" * MAX_MESSAGE_BYTES, 413, True),
        (b"INVITE " + b"x" * MAX_MESSAGE_BYTES, 413, False),
        (INVITE.replace("\r\n\r\n", "\r\n").encode(), 400, False),
    ],
    ids=[
        "garbage",
        "no-cseq",
        "cseq-method",
        "cseq-number",
        "short-body",
        "bad-length",
        "version",
        "bad-header",
        "too-big",
        "too-big-unreadable",
        "no-blank-line",
    ],
)
def test_malformed_messages_say_what_they_deserve(
    data: bytes, status: int, answerable: bool
) -> None:
    with pytest.raises(SIPParseError) as raised:
        parse_message(data)
    assert raised.value.status == status
    assert (raised.value.request is not None) == answerable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sip:alice@example.com", ("sip", "alice", "example.com", None)),
        ("sips:bob@[2001:db8::1]:5061;transport=tls", ("sips", "bob", "[2001:db8::1]", 5061)),
        ("sip:192.0.2.1:5070", ("sip", "", "192.0.2.1", 5070)),
        (
            "sip:+15551234567@trunk.example;user=phone",
            ("sip", "+15551234567", "trunk.example", None),
        ),
    ],
)
def test_uris(text: str, expected: tuple[str, str, str, int | None]) -> None:
    uri = SIPURI.parse(text)
    assert (uri.scheme, uri.user, uri.host, uri.port) == expected
    assert SIPURI.parse(str(uri)) == uri


def test_a_bare_address_keeps_its_tag_out_of_the_uri() -> None:
    bare = NameAddress.parse("sip:carol@example.com;tag=88")
    assert (bare.uri.params, bare.tag) == ({}, "88")
    with pytest.raises(SIPParseError):
        NameAddress.parse("<mailto:carol@example.com>")

"""SDP offer/answer, RTP packets and the jitter buffer, RFC 4733 and SIP INFO keys: Sans-I/O."""

from __future__ import annotations

import pytest

from voicegate.audio.g711 import ALAW, ULAW
from voicegate.telephony.dtmf import EventReceiver, TelephoneEvent, parse_info
from voicegate.telephony.rtp import (
    MAX_GAP_SAMPLES,
    JitterBuffer,
    Played,
    RTPError,
    RTPPacket,
    RTPSender,
)
from voicegate.telephony.sdp import (
    MediaChoice,
    SDPError,
    answer_direction,
    choose_media,
    offered_choices,
    parse_sdp,
    write_sdp,
)
from voicegate.voice.dtmf import DTMFDigit

OFFER = """v=0
o=alice 2890844526 2890844526 IN IP4 198.51.100.2
s=-
c=IN IP4 198.51.100.2
t=0 0
m=video 51372 RTP/AVP 31
m=audio 49170 RTP/AVP 18 8 0 101
c=IN IP4 198.51.100.3
a=rtpmap:18 G729/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendonly
"""


def test_an_offer_is_read_and_answered_with_its_first_g711_codec() -> None:
    stream = parse_sdp(OFFER)
    assert (stream.address, stream.port, stream.formats) == ("198.51.100.3", 49170, (18, 8, 0, 101))
    assert (stream.direction, stream.sends, stream.receives) == ("sendonly", True, False)
    choice = choose_media(stream)
    assert (choice.codec, choice.payload, choice.event_payload) == (ALAW, 8, 101)
    answer = write_sdp(
        "192.0.2.1",
        20000,
        [choice],
        session_id=7,
        version=2,
        direction=answer_direction(stream.direction),
    )
    read_back = parse_sdp(answer)
    assert (read_back.address, read_back.port, read_back.formats) == ("192.0.2.1", 20000, (8, 101))
    assert read_back.rtpmap == {8: ("PCMA", 8000), 101: ("telephone-event", 8000)}
    assert read_back.direction == "recvonly"
    assert "a=fmtp:101 0-15" in answer


def test_voicegates_own_offer_lists_pcmu_pcma_and_telephone_event() -> None:
    offer = parse_sdp(write_sdp("192.0.2.1", 20000, offered_choices(), session_id=1, version=1))
    assert offer.formats == (0, 8, 101)
    assert choose_media(offer) == MediaChoice(ULAW, 0, 101)


@pytest.mark.parametrize(
    ("direction", "answer"),
    [
        ("sendrecv", "sendrecv"),
        ("sendonly", "recvonly"),
        ("recvonly", "sendonly"),
        ("inactive", "inactive"),
    ],
)
def test_directions_are_answered_in_reverse(direction: str, answer: str) -> None:
    assert answer_direction(direction) == answer


def test_an_old_style_hold_has_no_address() -> None:
    stream = parse_sdp(OFFER.replace("198.51.100.3", "0.0.0.0").replace("a=sendonly", "a=sendrecv"))
    assert (stream.address, stream.sends, stream.receives) == (None, False, False)


@pytest.mark.parametrize(
    ("text", "malformed"),
    [
        ("v=0\nc=IN IP4 198.51.100.2\nm=video 5000 RTP/AVP 31\n", False),
        ("v=0\nc=IN IP4 198.51.100.2\nm=audio 5000 RTP/AVP 18\na=rtpmap:18 G729/8000\n", False),
        ("v=0\nc=IN IP4 198.51.100.2\nm=audio 5000 RTP/SAVP 0\n", False),
        ("v=0\nm=audio 5000 RTP/AVP 0\n", True),
        ("v=0\nc=IN IP4 nowhere\nm=audio 5000 RTP/AVP 0\n", False),
        ("v=0\nc=IN IP4 198.51.100.2\nm=audio port RTP/AVP 0\n", True),
        ("v=0\nc=IN IP4 198.51.100.2\nm=audio 5000 RTP/AVP zero\n", True),
        ("v=0\nc=IN IP4 198.51.100.2\nm=audio 99999 RTP/AVP 0\n", True),
        ("garbage\n", True),
    ],
    ids=[
        "no-audio",
        "no-g711",
        "srtp",
        "no-address",
        "hostname",
        "bad-port",
        "bad-format",
        "port-range",
        "garbage",
    ],
)
def test_unusable_descriptions_are_refused(text: str, malformed: bool) -> None:
    with pytest.raises(SDPError) as raised:
        choose_media(parse_sdp(text))
    assert raised.value.malformed is malformed


def test_rtp_packets_round_trip_and_skip_csrcs_extensions_and_padding() -> None:
    sender = RTPSender()
    first, second = sender.packet(0, b"\xff" * 160, 160), sender.packet(0, b"\x7f" * 160, 160)
    assert (second.sequence - first.sequence) % 65536 == 1
    assert (second.timestamp - first.timestamp) % 2**32 == 160
    assert RTPPacket.parse(first.to_bytes()) == first
    header = bytes([0x80 | 0x20 | 0x10 | 0x01, 0x80 | 8]) + (5).to_bytes(2, "big") + bytes(8)
    csrc, extension = bytes(4), bytes([0xBE, 0xDE, 0, 1]) + bytes(4)
    packet = RTPPacket.parse(header + csrc + extension + b"abc" + bytes([0, 0, 3]))
    assert (packet.payload_type, packet.marker, packet.sequence, packet.payload) == (
        8,
        True,
        5,
        b"abc",
    )
    for bad in (b"\x80\x00", bytes([0x40]) + bytes(11), bytes([0x90]) + bytes(11)):
        with pytest.raises(RTPError):
            RTPPacket.parse(bad)


def packets(sequences: list[int], start: int = 65534, ssrc: int = 1) -> list[RTPPacket]:
    """Packets of 160 samples whose payload is their own sequence number."""
    return [
        RTPPacket(0, (start + n) % 65536, 1000 + 160 * n, ssrc, bytes([n % 256]) * 160)
        for n in sequences
    ]


def played(buffer: JitterBuffer, sent: list[RTPPacket]) -> list[Played]:
    return [p for packet in sent for p in buffer.push(packet)]


def test_in_order_packets_come_out_at_once_across_the_sequence_wrap() -> None:
    buffer = JitterBuffer()
    assert [buffer.push(p) for p in packets([0, 1, 2, 3])] == [
        [Played(bytes([n]) * 160, 160)] for n in range(4)
    ]


def test_reordered_duplicated_and_late_packets_come_out_once_in_order() -> None:
    buffer = JitterBuffer()
    out = played(buffer, packets([0, 2, 2, 1, 1, 3, 0]))  # the second 2 is held, 1 and 0 played
    assert [p.payload[:1] for p in out if p.payload] == [b"\x00", b"\x01", b"\x02", b"\x03"]
    assert (buffer.duplicates, buffer.late, buffer.lost) == (1, 2, 0)


def test_a_lost_packet_becomes_silence_once_the_buffer_is_deep_enough() -> None:
    buffer = JitterBuffer(depth=3)
    assert played(buffer, packets([0, 2, 3])) == [Played(b"\x00" * 160, 160)]  # 1 may come yet
    out = buffer.push(packets([4])[0])
    assert out == [Played(None, 160), *(Played(bytes([n]) * 160, 160) for n in (2, 3, 4))]
    assert buffer.lost == 1


def test_a_long_jump_in_time_is_a_pause_not_loss_and_a_new_ssrc_starts_afresh() -> None:
    buffer = JitterBuffer(depth=1)
    first = packets([0])[0]
    after_pause = RTPPacket(
        0, first.sequence + 2, first.timestamp + MAX_GAP_SAMPLES + 320, 1, b"\x01"
    )
    out = played(buffer, [first, after_pause, packets([3])[0]])
    assert Played(None, MAX_GAP_SAMPLES + 160) not in out
    restarted = packets([0], start=100, ssrc=2)[0]
    assert buffer.push(restarted) == [Played(restarted.payload, 160)]


def event(code: int, end: bool, duration: int, timestamp: int, sequence: int) -> RTPPacket:
    payload = TelephoneEvent(code, end, 10, duration).to_bytes()
    return RTPPacket(101, sequence, timestamp, 9, payload)


def test_telephone_events_give_each_key_once_even_when_its_end_is_lost() -> None:
    receiver = EventReceiver()
    five = [event(5, False, 160 * n, 8000, n) for n in (1, 2, 3)]
    five += [event(5, True, 800, 8000, n) for n in (4, 5, 6)]  # the end, sent three times
    pound = [event(11, False, 160, 16000, 7)]  # its end packets are all lost
    star = [event(10, True, 640, 24000, 8)]
    keys = [key for packet in five + pound + star for key in receiver.push(packet)]
    assert keys == [
        DTMFDigit("5", 100.0, "rfc4733"),
        DTMFDigit("#", 20.0, "rfc4733"),
        DTMFDigit("*", 80.0, "rfc4733"),
    ]
    assert receiver.push(RTPPacket(101, 9, 32000, 9, b"\x01")) == []  # too short to be one


@pytest.mark.parametrize(
    ("content_type", "body", "key"),
    [
        (
            "application/dtmf-relay",
            b"Signal=5\r\nDuration=160\r\n",
            DTMFDigit("5", 160.0, "sip_info"),
        ),
        (
            "application/dtmf-relay; charset=utf-8",
            b"Signal= #\r\n",
            DTMFDigit("#", 0.0, "sip_info"),
        ),
        ("application/dtmf-relay", b"Signal=11\r\nDuration=x\r\n", DTMFDigit("#", 0.0, "sip_info")),
        ("application/dtmf", b"*", DTMFDigit("*", 0.0, "sip_info")),
    ],
)
def test_sip_info_bodies_carry_keys(content_type: str, body: bytes, key: DTMFDigit) -> None:
    assert parse_info(content_type, body) == key


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/media_control+xml", b"<x/>"),
        ("application/dtmf-relay", b"Signal=Z"),
        ("", b"5"),
    ],
)
def test_sip_info_without_a_key_is_refused(content_type: str, body: bytes) -> None:
    with pytest.raises(ValueError, match=r"key|carries no"):
        parse_info(content_type, body)

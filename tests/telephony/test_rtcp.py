"""RTCP packets (RFC 3550 6, A.2), receiver statistics (A.1, A.3, A.8) and a call's RTCP
session, Sans-I/O, on known vectors."""

from __future__ import annotations

import contextlib
import random

import pytest

from voicegate.telephony.reception import SourceStatistics
from voicegate.telephony.rtcp import (
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RTCPError,
    SenderReport,
    SourceDescription,
    build_compound,
    middle_bits,
    ntp_timestamp,
    parse_compound,
)
from voicegate.telephony.rtcp_session import COMPENSATION, MIN_INTERVAL_S, RTCPSession
from voicegate.telephony.rtp import RTPPacket

# An SR with no blocks, an SDES with the CNAME "abcd" and a BYE, assembled by hand from
# RFC 3550 6.4.1, 6.5 and 6.6.
SR_SDES_BYE = bytes.fromhex(
    "80c80006" "12345678" "e1a2b3c480000000" "00001f40" "00000064" "00003e80"
    "81ca0003" "12345678" "0104616263640000"
    "81cb0001" "12345678"
)  # fmt: skip
# An RR carrying one block: fraction 64/256, cumulative -1 (a duplicate), highest 0x00010005,
# jitter 42, LSR 0xb3c48000, DLSR 0x00018000 (1.5 s).
RR_BLOCK = bytes.fromhex(
    "81c90007" "cafebabe"
    "12345678" "40ffffff" "00010005" "0000002a" "b3c48000" "00018000"
)  # fmt: skip


def test_a_hand_built_compound_packet_is_read_field_by_field() -> None:
    report, description, goodbye = parse_compound(SR_SDES_BYE)
    assert report == SenderReport(0x12345678, 0xE1A2B3C480000000, 8000, 100, 16000)
    assert description == SourceDescription(((0x12345678, "abcd"),))
    assert goodbye == Goodbye((0x12345678,))
    assert build_compound([report, description, goodbye]) == SR_SDES_BYE


def test_a_report_block_keeps_its_signed_loss_and_sr_timing() -> None:
    (report,) = parse_compound(RR_BLOCK)
    assert report == ReceiverReport(
        0xCAFEBABE, (ReportBlock(0x12345678, 64, -1, 0x10005, 42, 0xB3C48000, 0x18000),)
    )
    assert report.to_bytes() == RR_BLOCK


def test_a_cumulative_loss_beyond_24_bits_is_clamped() -> None:
    block = ReportBlock(1, 0, 1 << 30, 0, 0)
    assert ReportBlock.parse(block.to_bytes(), 0).cumulative_lost == 0x7FFFFF


def test_sdes_chunks_and_bye_reasons_of_every_length_read_back() -> None:
    for size in range(0, 9):
        name = "x" * size
        packets = [
            ReceiverReport(7),
            SourceDescription(((7, name), (8, name))),
            Goodbye((7, 8), name),
        ]
        assert parse_compound(build_compound(packets)) == packets  # type: ignore[arg-type]


def test_reduced_size_packets_a_bye_or_an_app_first_are_read() -> None:
    # What baresip (libre) sends: an APP "PING" alone, and BYE then SDES when it hangs up.
    assert parse_compound(bytes.fromhex("80cc0003f91c3b5850494e47504f4e47")) == []
    goodbye, description = parse_compound(SR_SDES_BYE[44:] + SR_SDES_BYE[28:44])
    assert (goodbye, description) == (
        Goodbye((0x12345678,)),
        SourceDescription(((0x12345678, "abcd"),)),
    )


def test_unknown_packet_types_are_skipped_and_padding_in_the_last_is_honoured() -> None:
    app = bytes.fromhex("80cc0002123456786e616d65")  # APP "name", no data
    padded_bye = bytes.fromhex("a1cb00021234567800000004")  # BYE with 4 bytes of padding
    packets = parse_compound(RR_BLOCK + app + padded_bye)
    assert [type(p) for p in packets] == [ReceiverReport, Goodbye]
    assert packets[1] == Goodbye((0x12345678,))


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "whole number"),
        (SR_SDES_BYE[:-2], "whole number"),
        (bytes([0x40]) + SR_SDES_BYE[1:], "version"),  # version 1
        (bytes.fromhex("8048000100000000"), "type 72"),  # RTP, payload type 72 with marker
        (bytes([0xA0]) + SR_SDES_BYE[1:], "or padded"),  # padding in the first
        (SR_SDES_BYE + b"\x81\xcb\x00\x05" + bytes(4), "longer than the datagram"),
        (SR_SDES_BYE[:28] + bytes([0xA1]) + SR_SDES_BYE[29:], "padding before the last"),
        (bytes.fromhex("81c80006") + SR_SDES_BYE[4:28], "truncated SR"),  # one block claimed
        (RR_BLOCK + bytes.fromhex("a1cb000100000000"), "padding length"),
        (RR_BLOCK + bytes.fromhex("81ca000100000001"), "truncated SDES"),
        (RR_BLOCK + bytes.fromhex("81cb00020000000105414243"), "truncated BYE reason"),
        (RR_BLOCK + bytes.fromhex("01cb0000"), "version 0"),
    ],
)
def test_packets_that_fail_rfc_3550_a2_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(RTCPError, match=why):
        parse_compound(data)


def test_no_datagram_breaks_the_parser_with_anything_but_rtcp_error() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        data = bytearray(SR_SDES_BYE if rng.random() < 0.5 else RR_BLOCK)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[: rng.randrange(len(data) + 1)]
        with contextlib.suppress(RTCPError):
            parse_compound(bytes(data))


def test_ntp_timestamps_and_their_middle_bits() -> None:
    assert ntp_timestamp(0.0) == 2_208_988_800 << 32
    assert ntp_timestamp(1.5) == (2_208_988_801 << 32) | 0x80000000
    assert middle_bits(0xE1A2B3C480000000) == 0xB3C48000


def _stats(sequences: list[int], arrivals: list[int] | None = None) -> SourceStatistics:
    source = SourceStatistics(0xABC, sequences[0])
    for i, sequence in enumerate(sequences):
        source.update(sequence, 160 * i, 160 * i if arrivals is None else arrivals[i])
    return source


def test_a_source_is_valid_after_two_packets_in_sequence_and_losses_are_counted() -> None:
    source = _stats([0, 1, 2, 5, 6, 7, 8, 9])  # 3 and 4 lost; 0 was its probation
    assert (source.expected, source.received, source.lost) == (9, 7, 2)
    block = source.report()
    assert (block.fraction_lost, block.cumulative_lost, block.highest_sequence) == (56, 2, 9)
    assert source.report().fraction_lost == 0  # nothing expected since


def test_fraction_lost_covers_the_interval_since_the_last_report() -> None:
    source = _stats([10, 11, 12, 13])
    assert source.report().fraction_lost == 0
    for sequence in (14, 17):  # 15 and 16 lost out of 4 expected
        source.update(sequence, 0, 0)
    block = source.report()
    assert (block.fraction_lost, block.cumulative_lost) == (128, 2)


def test_the_extended_sequence_counts_wrap_arounds() -> None:
    source = _stats([65533, 65534, 65535, 0, 1])
    assert (source.cycles, source.extended_max) == (65536, 65537)
    assert (source.expected, source.lost) == (4, 0)
    assert source.report().highest_sequence == 0x10001


def test_duplicates_make_the_cumulative_loss_negative() -> None:
    source = _stats([1, 2, 3, 3, 4])
    assert source.report().cumulative_lost == -1


def test_a_jump_is_a_restart_only_when_the_next_packet_follows_it() -> None:
    source = _stats([1, 2, 3])
    assert not source.update(20000, 0, 0)  # one stray packet: not counted
    assert (source.received, source.extended_max) == (2, 3)
    assert source.update(20001, 0, 0)  # two in sequence: the sender restarted
    assert (source.base_sequence, source.received, source.lost) == (20001, 1, 0)


def test_interarrival_jitter_follows_rfc_3550_a8() -> None:
    # Transit times 0, 0, 16, 0, 16 (timestamp units); the first packet is on probation.
    source = _stats([1, 2, 3, 4, 5], arrivals=[0, 160, 336, 480, 656])
    # |D| is 16 three times: J = 1, then 1 + 15/16, then that + (16 - it)/16.
    assert source.jitter == pytest.approx(1 + 15 / 16 + (16 - 1 - 15 / 16) / 16)
    assert source.report().jitter == 2


def _rtp(sequence: int, ssrc: int = 0xABC, payload: bytes = bytes(160)) -> RTPPacket:
    return RTPPacket(0, sequence, 160 * sequence, ssrc, payload)


def test_two_sessions_report_loss_and_measure_the_round_trip() -> None:
    ours, theirs = RTCPSession(0x1111, 8000), RTCPSession(0x2222, 8000)
    for sequence in range(50):
        ours.sent(_rtp(sequence, 0x1111), 100.0)
        if sequence not in (20, 21, 22):  # three packets lost on the way
            theirs.received(_rtp(sequence, 0x1111), 100.0 + sequence * 0.02)
    report = ours.report(100.0)  # an SR: voicegate sent
    assert isinstance(parse_compound(report)[0], SenderReport)
    theirs.receive(report, 100.05)  # 50 ms on the way
    ours.receive(theirs.report(101.0), 101.05)  # held 0.95 s, 50 ms back
    quality = ours.quality()
    assert quality.peer_lost == 3
    assert quality.peer_fraction_lost == pytest.approx((3 << 8) // 49 / 256)
    assert quality.round_trip_ms == pytest.approx(100.0, abs=0.1)
    assert (quality.sent, quality.reports, quality.invalid) == (50, 1, 0)
    assert quality.peer_lost_ratio == 3 / 50
    assert (theirs.quality().lost, theirs.quality().lost_ratio) == (3, 3 / 49)


def test_a_session_reports_rr_when_it_sent_nothing_and_bye_when_asked() -> None:
    session = RTCPSession(0x1111, 8000, cname="me@example")
    session.received(_rtp(1), 1.0)
    session.received(_rtp(2), 1.02)
    first, description, goodbye = parse_compound(session.report(2.0, goodbye="hung up"))
    assert isinstance(first, ReceiverReport)
    assert first.reports[0].ssrc == 0xABC
    assert description == SourceDescription(((0x1111, "me@example"),))
    assert goodbye == Goodbye((0x1111,), "hung up")


def test_a_bad_datagram_is_counted_and_the_peers_bye_noted() -> None:
    session = RTCPSession(0x1111, 8000)
    session.received(_rtp(1), 1.0)
    assert session.receive(b"\x00\x01\x02", 1.0) == []
    session.receive(build_compound([ReceiverReport(0xABC), Goodbye((0xABC,))]), 2.0)
    quality = session.quality()
    assert (quality.invalid, quality.reports, quality.peer_left, quality.peer_lost) == (
        1, 1, True, None,
    )  # fmt: skip


def test_report_intervals_are_randomized_around_the_minimum() -> None:
    rng = random.Random(3)
    firsts = [RTCPSession.interval(first=True, rng=rng) for _ in range(200)]
    laters = [RTCPSession.interval(rng=rng) for _ in range(200)]
    low, high = 0.5 / COMPENSATION, 1.5 / COMPENSATION
    assert all(MIN_INTERVAL_S / 2 * low <= t <= MIN_INTERVAL_S / 2 * high for t in firsts)
    assert all(MIN_INTERVAL_S * low <= t <= MIN_INTERVAL_S * high for t in laters)
    assert max(laters) - min(laters) > MIN_INTERVAL_S / 2  # not one fixed period

"""PassThroughBuffer: every audio packet goes to the decoder as it arrives, in order."""

from __future__ import annotations

from aiortc.jitterbuffer import MAX_MISORDER
from aiortc.rtp import RtpPacket

from voicegate.voice.rtc.inbound import PassThroughBuffer


def packet(number: int) -> RtpPacket:
    sent = RtpPacket(payload_type=111, sequence_number=number, timestamp=960 * number)
    sent._data = bytes([number % 256])  # type: ignore[attr-defined]  # aiortc's depayloaded data
    return sent


def passed(buffer: PassThroughBuffer, numbers: list[int]) -> list[int | None]:
    out = []
    for number in numbers:
        pli, frame = buffer.add(packet(number))
        assert pli is False
        out.append(None if frame is None else frame.timestamp // 960)
    return out


def test_each_packet_in_order_is_passed_on_at_once_across_the_wraparound() -> None:
    numbers = [65534, 65535, 0, 1]
    assert passed(PassThroughBuffer(), numbers) == [65534, 65535, 0, 1]
    _, frame = PassThroughBuffer().add(packet(5))
    assert frame is not None
    assert frame.data == bytes([5])


def test_a_gap_passes_and_a_late_or_repeated_packet_is_dropped() -> None:
    assert passed(PassThroughBuffer(), [10, 12, 11, 12, 13]) == [10, 12, None, None, 13]


def test_a_packet_far_behind_starts_a_new_stream() -> None:
    far = 1000 - MAX_MISORDER
    assert passed(PassThroughBuffer(), [1000, far, far + 1]) == [1000, far, far + 1]

"""Endpointing on real synthetic speech with known silences, and its configuration."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from voicegate.audio import (
    AudioFrame,
    BatchInboundPath,
    Endpointer,
    EndpointEvent,
    SpeechEnd,
    SpeechStart,
    WebRTCVAD,
    resample,
)

GAPS = (0.8, 1.1, 0.7, 1.3, 0.9)
TOLERANCE = 0.060
PREROLL_S = 0.2
"""The pre-roll the endpointers of these tests keep."""


def speech_stream(
    utterances: list[AudioFrame],
) -> tuple[npt.NDArray[np.int16], list[tuple[float, float]]]:
    """16 kHz utterances separated by known gaps of faint noise, and the true boundaries."""
    rng = np.random.default_rng(1)
    pieces, truth, position = [], [], 0
    for gap, utterance in zip(GAPS, [*utterances, None], strict=False):
        pieces.append(rng.normal(0, 10, int(gap * 16000)))
        position += len(pieces[-1])
        if utterance is None:
            break
        audio = resample(utterance, 16000).samples[:, 0].astype(np.float64)
        loud = np.flatnonzero(np.abs(audio) > 0.02 * 32768)
        audio = audio[loud[0] : loud[-1] + 1]
        truth.append((position / 16000, (position + len(audio)) / 16000))
        pieces.append(audio + rng.normal(0, 10, len(audio)))
        position += len(audio)
    return np.rint(np.concatenate(pieces)).astype(np.int16), truth


def check_events(events: list[EndpointEvent], truth: list[tuple[float, float]]) -> None:
    starts = [e for e in events if isinstance(e, SpeechStart)]
    ends = [e for e in events if isinstance(e, SpeechEnd)]
    assert [type(e) for e in events] == [SpeechStart, SpeechEnd] * len(truth)
    for start, end, (true_start, true_end) in zip(starts, ends, truth, strict=True):
        assert start.timestamp == pytest.approx(true_start, abs=TOLERANCE)
        assert end.start == start.timestamp
        assert end.timestamp == pytest.approx(true_end, abs=TOLERANCE)
        assert not end.forced
        assert start.preroll.duration == pytest.approx(PREROLL_S, abs=0.001)
        assert start.speech.timestamp == start.timestamp
        assert start.speech.duration == pytest.approx(0.06, abs=0.021)  # start_ms, whole frames
        assert start.preroll.timestamp + start.preroll.duration == pytest.approx(start.timestamp)
        assert end.utterance.timestamp == pytest.approx(start.timestamp - PREROLL_S, abs=0.001)
        assert end.utterance.duration == pytest.approx(end.timestamp - end.utterance.timestamp)


def test_every_utterance_found_once_within_60_ms(espeak_utterances: list[AudioFrame]) -> None:
    audio, truth = speech_stream(espeak_utterances)
    vad = WebRTCVAD(aggressiveness=2).new_stream()
    endpointer = Endpointer(start_ms=60, hangover_ms=300, preroll_ms=PREROLL_S * 1000)
    events: list[EndpointEvent] = []
    for offset in range(0, len(audio) - 319, 320):
        frame = AudioFrame(audio[offset : offset + 320], 16000, offset / 16000)
        events += endpointer.push(frame, vad.is_speech(frame))
    events += endpointer.flush()
    check_events(events, truth)


def test_batched_48k_stereo_path_endpoints_the_same(espeak_utterances: list[AudioFrame]) -> None:
    """Through the real inbound path: 48 kHz stereo in, three sessions in one batch."""
    audio, truth = speech_stream(espeak_utterances)
    stereo = np.repeat(resample(AudioFrame(audio, 16000), 48000).samples, 2, axis=1)
    path = BatchInboundPath(WebRTCVAD(aggressiveness=2))
    sessions = ("a", "b", "c")
    for session in sessions:
        path.add_session(session)
    endpointers = {session: Endpointer(preroll_ms=PREROLL_S * 1000) for session in sessions}
    events: dict[str, list[EndpointEvent]] = {session: [] for session in sessions}
    for offset in range(0, len(stereo) - 959, 960):
        block = np.broadcast_to(stereo[offset : offset + 960], (3, 960, 2))
        tick = path.process(path.session_ids, np.ascontiguousarray(block), offset / 48000)
        for row, session in enumerate(tick.session_ids):
            events[session] += endpointers[session].push(tick.frame(row), bool(tick.speech[row]))
    for session in sessions:
        check_events(events[session] + endpointers[session].flush(), truth)


def frame_at(index: int, loud: bool) -> AudioFrame:
    value = 8000 if loud else 0
    return AudioFrame(np.full(320, value, np.int16), 16000, index * 0.02)


def run(endpointer: Endpointer, pattern: str) -> list[EndpointEvent]:
    events: list[EndpointEvent] = []
    for index, mark in enumerate(pattern):
        events += endpointer.push(frame_at(index, mark == "#"), mark == "#")
    return events + endpointer.flush()


def test_short_blips_do_not_start_speech() -> None:
    assert run(Endpointer(start_ms=60), "....##....#.....##...") == []


def test_pauses_shorter_than_the_hangover_stay_in_one_utterance() -> None:
    events = run(
        Endpointer(start_ms=40, hangover_ms=200, preroll_ms=40), "..###...........###....."
    )
    assert [type(e) for e in events] == [SpeechStart, SpeechEnd] * 2
    events = run(
        Endpointer(start_ms=40, hangover_ms=200, preroll_ms=40), "..#####......#####......"
    )
    assert [type(e) for e in events] == [SpeechStart, SpeechEnd]
    end = events[1]
    assert isinstance(end, SpeechEnd)
    assert (end.start, end.timestamp) == pytest.approx((0.04, 0.36))
    assert end.utterance.num_samples == round((0.36 - 0.0) * 16000)


def test_the_peak_is_the_loudest_speech_frame_of_the_open_utterance() -> None:
    endpointer = Endpointer(start_ms=40, hangover_ms=1000)
    for index, (level, vad) in enumerate([(800, True), (8000, True), (16000, False), (50, True)]):
        endpointer.push(AudioFrame(np.full(320, level, np.int16), 16000, index * 0.02), vad)
    assert endpointer.peak_dbfs == pytest.approx(20 * np.log10(8000 / 32768), abs=0.1)
    assert endpointer.last_speech_end == pytest.approx(0.04)  # the quiet frame is 44 dB down


def test_a_sound_is_a_speech_frame_within_sound_db_of_the_loudest() -> None:
    endpointer = Endpointer(start_ms=20, hangover_ms=1000, sound_db=45.0)
    levels = [(8000, True, True), (300, True, True), (30, True, False), (8000, False, False)]
    for index, (level, vad, sound) in enumerate(levels):  # 300: 29 dB down; 30: 49 dB down
        endpointer.push(AudioFrame(np.full(320, level, np.int16), 16000, index * 0.02), vad)
        assert endpointer.sounding is sound
    assert endpointer.last_sound_end == pytest.approx(0.04)
    assert endpointer.last_speech_end == pytest.approx(0.04)  # 300 is within end_trim_db too


def test_maximum_length_forces_an_end() -> None:
    events = run(Endpointer(start_ms=20, max_utterance_ms=200), "#" * 25)
    ends = [e for e in events if isinstance(e, SpeechEnd)]
    assert [e.forced for e in ends] == [True, True, False]
    assert ends[0].timestamp - ends[0].start == pytest.approx(0.2)


def test_flush_closes_an_open_utterance_and_bad_settings_fail() -> None:
    endpointer = Endpointer(start_ms=20)
    endpointer.push(frame_at(0, True), True)
    assert endpointer.in_speech
    (end,) = endpointer.flush()
    assert isinstance(end, SpeechEnd)
    assert not endpointer.in_speech
    with pytest.raises(ValueError, match="non-negative"):
        Endpointer(hangover_ms=-1)


def test_rewound_frames_are_pushed_again_as_they_were() -> None:
    """A sound the echo canceller cut comes back: the quiet frames heard in its place are
    forgotten, what was heard before it stays the pre-roll, and the sound opens the
    utterance."""
    endpointer = Endpointer(start_ms=40, hangover_ms=200, preroll_ms=60)
    for index in range(10):  # 0.2 s heard as quiet: the last 0.04 s of it was a cut sound
        assert endpointer.push(frame_at(index, False), False) == []
    endpointer.rewind(0.16)
    events = endpointer.push(frame_at(8, True), True) + endpointer.push(frame_at(9, True), True)
    (start,) = events
    assert isinstance(start, SpeechStart)
    assert start.timestamp == pytest.approx(0.16)
    assert (start.preroll.timestamp, start.preroll.duration) == pytest.approx((0.12, 0.04))
    with pytest.raises(RuntimeError, match="inside an utterance"):
        endpointer.rewind(0.1)

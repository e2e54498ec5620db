"""The raw microphone audio kept beside the canceller's output."""

from __future__ import annotations

import numpy as np

from voicegate.audio.raw_capture import KEPT_S, RawCapture

RATE = 16000
BLOCK = RATE // 100


def test_the_raw_audio_is_given_from_a_start_it_keeps_where_the_canceller_cut_it() -> None:
    raw = RawCapture(RATE)
    blocks = [np.full(BLOCK, index, np.int16) for index in range(round(KEPT_S * 100) + 50)]
    for index, block in enumerate(blocks[:100]):
        raw.add(block, cancelled=index < 10, cut=False)
    assert raw.since(10 / 100) is None  # nothing since was cut: the output was the raw sound
    since = raw.since(5 / 100)
    assert since is not None
    assert since.timestamp == 5 / 100
    assert np.array_equal(since.samples[:, 0], np.concatenate(blocks[5:100]))

    for block in blocks[100:]:
        raw.add(block, cancelled=True, cut=False)
    assert raw.since(5 / 100) is None  # no longer kept
    kept = raw.since(len(blocks) / 100 - KEPT_S)
    assert kept is not None
    assert np.array_equal(kept.samples[:, 0], np.concatenate(blocks)[-round(KEPT_S * RATE) :])


def test_the_raw_audio_reaches_back_to_the_start_of_a_sound_the_canceller_cut() -> None:
    raw = RawCapture(RATE)
    blocks = [np.full(BLOCK, index, np.int16) for index in range(100)]
    for index, block in enumerate(blocks):
        raw.add(block, cancelled=index < 50, cut=20 <= index < 40)
    since = raw.since(45 / 100)
    assert since is not None
    assert since.timestamp == 45 / 100  # the blocks just before were not cut
    since = raw.since(30 / 100)
    assert since is not None
    assert since.timestamp == 20 / 100
    assert np.array_equal(since.samples[:, 0], np.concatenate(blocks[20:]))


def test_the_raw_audio_never_reaches_back_before_a_floor() -> None:
    """A cut sound's start in audio another utterance had: the raw audio starts at the
    floor, inside a block, however far back the cut began."""
    raw = RawCapture(RATE)
    blocks = [np.full(BLOCK, index, np.int16) for index in range(100)]
    for index, block in enumerate(blocks):
        raw.add(block, cancelled=index < 50, cut=20 <= index < 40)
    since = raw.since(30 / 100, not_before=25.5 / 100)
    assert since is not None
    assert since.timestamp == 25.5 / 100
    assert np.array_equal(since.samples[:, 0], np.concatenate(blocks[25:])[BLOCK // 2 :])
    below = raw.since(30 / 100, not_before=10 / 100)  # a floor before the cut began
    assert below is not None
    assert below.timestamp == 20 / 100

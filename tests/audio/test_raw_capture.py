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
        raw.add(block, cancelled=index < 10)
    assert raw.since(10 * BLOCK) is None  # nothing since was cut: the output was the raw sound
    since = raw.since(5 * BLOCK)
    assert since is not None
    assert np.array_equal(since, np.concatenate(blocks[5:100]))

    for block in blocks[100:]:
        raw.add(block, cancelled=True)
    assert raw.since(5 * BLOCK) is None  # no longer kept
    kept = raw.since(len(blocks) * BLOCK - round(KEPT_S * RATE))
    assert kept is not None
    assert np.array_equal(kept, np.concatenate(blocks)[-round(KEPT_S * RATE) :])

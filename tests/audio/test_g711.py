"""G.711 tables against Python 3.11's ``audioop``, over every sample and every code."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

from voicegate.audio.g711 import ALAW, ULAW, G711Codec

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    audioop = pytest.importorskip("audioop", reason="audioop (the reference) is gone after 3.12")

EVERY_SAMPLE = np.arange(65536, dtype=np.uint16).view(np.int16)
EVERY_CODE = bytes(range(256))


@pytest.mark.parametrize(
    ("codec", "encode", "decode"),
    [(ULAW, audioop.lin2ulaw, audioop.ulaw2lin), (ALAW, audioop.lin2alaw, audioop.alaw2lin)],
    ids=["ulaw", "alaw"],
)
def test_every_sample_and_every_code_match_audioop(
    codec: G711Codec, encode: Callable[[bytes, int], bytes], decode: Callable[[bytes, int], bytes]
) -> None:
    assert codec.encode(EVERY_SAMPLE) == encode(EVERY_SAMPLE.tobytes(), 2)
    assert codec.decode(EVERY_CODE).tobytes() == decode(EVERY_CODE, 2)


@pytest.mark.parametrize("codec", [ULAW, ALAW], ids=["ulaw", "alaw"])
def test_a_round_trip_keeps_a_tone_within_g711_quantisation(codec: G711Codec) -> None:
    t = np.arange(8000) / 8000
    tone = np.rint(12000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    back = codec.decode(codec.encode(tone))
    error = back.astype(np.float64) - tone
    snr = 10 * np.log10(np.mean(tone.astype(np.float64) ** 2) / np.mean(error**2))
    assert back.dtype == np.int16
    assert snr > 35  # G.711 gives about 38 dB on a loud tone
    decoded = codec.decode(EVERY_CODE)  # every level G.711 has survives re-encoding
    assert np.array_equal(codec.decode(codec.encode(decoded)), decoded)

"""G.711 µ-law and A-law (the phone network's 8 kHz codecs) as numpy lookup tables.

The tables reproduce Python's ``audioop`` (``lin2ulaw``/``ulaw2lin``/``lin2alaw``/``alaw2lin``
on 16-bit samples) bit for bit: µ-law encodes the top 14 bits of a sample, A-law the top 13,
as the ITU-T reference does. ``audioop`` is gone from Python 3.13; these tables are built
once, with numpy, from the same segment arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]
Codes = npt.NDArray[np.uint8]

_QUANT_MASK = 0x0F
_SEG_SHIFT = 4
_SEG_MASK = 0x70
_SIGN_BIT = 0x80
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159
_ULAW_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEGMENT_ENDS = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _all_samples() -> npt.NDArray[np.int32]:
    """Every int16 value, indexed by its bit pattern read as uint16."""
    return np.arange(65536, dtype=np.uint16).view(np.int16).astype(np.int32)


def _ulaw_encode_table() -> Codes:
    pcm = _all_samples() >> 2  # 14-bit
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_ULAW_SEGMENT_ENDS, magnitude)  # first end >= magnitude
    code = (np.minimum(segment, 7) << _SEG_SHIFT) | ((magnitude >> (segment + 1)) & _QUANT_MASK)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _ulaw_decode_table() -> Samples:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((code & _QUANT_MASK) << 3) + _ULAW_BIAS) << ((code & _SEG_MASK) >> _SEG_SHIFT)
    return np.where(code & _SIGN_BIT, _ULAW_BIAS - magnitude, magnitude - _ULAW_BIAS).astype(
        np.int16
    )


def _alaw_encode_table() -> Codes:
    pcm = _all_samples() >> 3  # 13-bit
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    magnitude = np.where(pcm >= 0, pcm, -pcm - 1)
    segment = np.searchsorted(_ALAW_SEGMENT_ENDS, magnitude)
    shift = np.where(segment < 2, 1, segment)
    code = (np.minimum(segment, 7) << _SEG_SHIFT) | ((magnitude >> shift) & _QUANT_MASK)
    code = np.where(segment >= 8, 0x7F, code)
    return ((code ^ mask) & 0xFF).astype(np.uint8)


def _alaw_decode_table() -> Samples:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & _SEG_MASK) >> _SEG_SHIFT
    quantised = (code & _QUANT_MASK) << 4
    magnitude = np.where(
        segment == 0, quantised + 8, (quantised + 0x108) << np.maximum(segment - 1, 0)
    )
    return np.where(code & _SIGN_BIT, magnitude, -magnitude).astype(np.int16)


@dataclass(frozen=True, slots=True, eq=False)
class G711Codec:
    """One G.711 law: ``encode`` turns int16 samples into one byte each, ``decode`` back.

    ``name`` is the codec's RTP/SDP encoding name (``PCMU`` or ``PCMA``).
    """

    name: str
    encode_table: Codes
    decode_table: Samples

    def encode(self, samples: Samples) -> bytes:
        """One code byte per int16 sample."""
        flat = np.ascontiguousarray(samples, dtype=np.int16).reshape(-1)
        return self.encode_table[flat.view(np.uint16)].tobytes()

    def decode(self, data: bytes | bytearray | memoryview) -> Samples:
        """The int16 sample of each code byte."""
        codes = np.frombuffer(data, dtype=np.uint8)
        decoded: Samples = self.decode_table[codes]
        return decoded


ULAW = G711Codec("PCMU", _ulaw_encode_table(), _ulaw_decode_table())
"""µ-law, the North American and Japanese telephone codec (RTP payload type 0)."""
ALAW = G711Codec("PCMA", _alaw_encode_table(), _alaw_decode_table())
"""A-law, the European telephone codec (RTP payload type 8)."""

"""The client's ``hello``: what it asks for, and the checks it must pass (``docs/protocol.md``).

Sans-I/O like :mod:`voicegate.voice.protocol`, which reads every ``hello`` through
:func:`read_hello`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

SAMPLE_FORMAT = "pcm16"
"""The format of the caller's audio: signed 16-bit little-endian PCM."""
AUTO_LANGUAGE = "auto"
"""The language setting that lets the recogniser detect each utterance's language."""
PROTOCOL_VERSIONS = (1, 2)
"""The protocol versions a ``hello`` may ask for; without ``protocol`` it is version 1."""
MULAW = "mulaw"
"""G.711 mu-law: one byte a sample, the telephone's format (version 2's output choice)."""
OUTPUT_RATES = (8000, 16000, 24000, 48000)
"""The rates a version 2 ``hello`` may ask the answer audio in."""
OUTPUT_FORMATS = (SAMPLE_FORMAT, MULAW)
"""The formats a version 2 ``hello`` may ask the answer audio in."""
UNSUPPORTED_PROTOCOL = "unsupported_protocol"
"""Why a ``hello`` is refused that asks for a protocol version the server does not speak."""


@dataclass(frozen=True, slots=True)
class Hello:
    """The client's opening message: the audio it will send and the room it asks for."""

    sample_rate: int
    channels: int
    room_id: str | None
    format: str = SAMPLE_FORMAT
    language: str | None = None
    """The language the caller speaks (``auto``: detected), or None for the server's default."""
    record: bool = False
    protocol: int = 1
    """The protocol version the connection speaks (one of :data:`PROTOCOL_VERSIONS`)."""
    output_sample_rate: int | None = None
    """Version 2: the rate of the answer audio (None: the server's)."""
    output_format: str = SAMPLE_FORMAT
    """Version 2: the format of the answer audio (:data:`OUTPUT_FORMATS`)."""
    settings: Mapping[str, object] = field(default_factory=dict)
    """The session settings the client chose (checked, by name)."""


@dataclass(frozen=True, slots=True)
class HelloRefused:
    """Why a ``hello`` was refused: the ``error`` code and its message."""

    code: str
    message: str


def is_language_code(value: object) -> bool:
    """Whether ``value`` is ``auto`` or has the shape of a language code (2-3 lower-case
    letters, as Whisper names languages); whether the recogniser knows it is checked when
    the session starts."""
    if not isinstance(value, str):
        return False
    code = 2 <= len(value) <= 3 and value.isascii() and value.isalpha() and value.islower()
    return value == AUTO_LANGUAGE or code


def read_hello(
    message: dict[str, Any], rates: Sequence[int], channel_counts: Sequence[int]
) -> Hello | HelloRefused:
    """The :class:`Hello` in ``message`` (a ``hello`` JSON object), or why it is refused."""
    rate = message.get("sample_rate")
    channels = message.get("channels", 1)
    sample_format = message.get("format", SAMPLE_FORMAT)
    room_id = message.get("room_id")
    language = message.get("language")
    record = message.get("record", False)
    protocol = message.get("protocol", 1)
    if not is_int(protocol):
        return HelloRefused("bad_hello", "protocol must be an integer")
    if protocol not in PROTOCOL_VERSIONS:
        versions = ", ".join(map(str, PROTOCOL_VERSIONS))
        return HelloRefused(UNSUPPORTED_PROTOCOL, f"protocol {protocol} is not one of {versions}")
    if not isinstance(record, bool):
        return HelloRefused("bad_hello", "record must be true or false")
    if not is_int(rate) or not is_int(channels):
        return HelloRefused("bad_hello", "sample_rate and channels must be integers")
    if not isinstance(sample_format, str) or not (room_id is None or isinstance(room_id, str)):
        return HelloRefused("bad_hello", "format must be a string and room_id a string or null")
    if rate not in rates:
        allowed = ", ".join(map(str, rates))
        return HelloRefused(
            "unsupported_sample_rate", f"sample_rate {rate} is not one of {allowed}"
        )
    if channels not in channel_counts:
        allowed = ", ".join(map(str, channel_counts))
        why = f"channels {channels} is not one of {allowed}"
        return HelloRefused("unsupported_channels", why)
    if sample_format != SAMPLE_FORMAT:
        return HelloRefused(
            "unsupported_format", f'format "{sample_format}" is not "{SAMPLE_FORMAT}"'
        )
    if not (language is None or is_language_code(language)):
        return HelloRefused(
            "bad_hello", 'language must be null, "auto" or a language code such as "fr"'
        )
    output = _read_output(message) if protocol > 1 else (None, SAMPLE_FORMAT)
    if isinstance(output, HelloRefused):
        return output
    return Hello(
        rate,
        channels,
        room_id,
        language=language,
        record=record,
        protocol=protocol,
        output_sample_rate=output[0],
        output_format=output[1],
    )


def _read_output(message: dict[str, Any]) -> tuple[int | None, str] | HelloRefused:
    """A version 2 ``hello``'s choice of answer audio: its rate (None: the server's) and
    format."""
    rate = message.get("output_sample_rate")
    output_format = message.get("output_format", SAMPLE_FORMAT)
    if rate is not None and (not is_int(rate) or rate not in OUTPUT_RATES):
        allowed = ", ".join(map(str, OUTPUT_RATES))
        return HelloRefused(
            "unsupported_sample_rate", f"output_sample_rate {rate} is not one of {allowed}"
        )
    if output_format not in OUTPUT_FORMATS:
        allowed = ", ".join(f'"{name}"' for name in OUTPUT_FORMATS)
        return HelloRefused(
            "unsupported_format", f"output_format {output_format!r} is not one of {allowed}"
        )
    return rate, output_format


def is_int(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is a JSON integer (``True`` is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)

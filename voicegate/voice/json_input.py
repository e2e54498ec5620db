"""JSON from clients, parsed within limits: bounded nesting, bounded integers, one error type.

Python's parser raises ``RecursionError`` for deep nesting and a plain ``ValueError`` for
integers past 4300 digits, neither of them a ``JSONDecodeError``. :func:`parse_client_json`
checks both limits itself and raises :class:`InvalidJSONError` for every way a client's text
can fail, with a message fit to send back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from voicegate.errors import RoomKitError

MAX_JSON_DEPTH = 32
"""The deepest nesting of arrays and objects a client may send (voicegate's own use 3)."""

MAX_JSON_INT_DIGITS = 20
"""The most digits an integer a client sends may have (any 64-bit integer fits)."""

# A JSON string (skipped whole, so brackets inside it do not count) or a bracket.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class InvalidJSONError(RoomKitError, ValueError):
    """Client text that is not JSON within voicegate's limits; the message says why."""


def parse_client_json(text: str | bytes) -> Any:
    """``text`` parsed as JSON; :class:`InvalidJSONError` when it is not, or is past a limit.

    Bytes must be UTF-8 (or UTF-16/32 with the encoding JSON allows).
    """
    try:
        if isinstance(text, bytes | bytearray):
            text = bytes(text).decode(json.detect_encoding(text))
        _check_depth(text)
        return json.loads(text, parse_int=_bounded_int)
    except UnicodeDecodeError:
        raise InvalidJSONError("the text is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidJSONError(exc.msg) from None


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return
    depth = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise InvalidJSONError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        elif token in ("]", "}"):
            depth -= 1


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_INT_DIGITS:
        raise InvalidJSONError(f"an integer has more than {MAX_JSON_INT_DIGITS} digits")
    return int(digits)

"""How ``voicegate serve`` reads each setting's text: the parsers of its settings table.

Each takes the text of a flag, an environment variable or a TOML value and returns the
value, or raises ``ValueError`` saying what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from voicegate.core.models import ChannelType
from voicegate.voice.hello import is_language_code
from voicegate.voice.session import CHOICES, VoiceSettings, session_setting

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected an integer from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return value

    return parse


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a positive number") from None
    if not 0 < value < math.inf:  # nan too
        raise ValueError("expected a positive number")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number, 0 or more") from None
    if not value >= 0:
        raise ValueError("expected a number, 0 or more")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise ValueError("expected a number from 0 to 1")
    return value


def boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError("expected true or false")


def one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def channel_types(text: str) -> frozenset[ChannelType]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    known = {kind.value for kind in ChannelType}
    if not names or not names <= known:
        raise ValueError(f"expected channel types separated by commas, from {', '.join(known)}")
    return frozenset(ChannelType(name) for name in names)


def session_value(name: str) -> Callable[[str], Any]:
    """A setting a session may also choose, checked as the ``hello`` checks it."""

    def parse(text: str) -> Any:
        default = getattr(VoiceSettings(), name)
        value: object = text
        if isinstance(default, bool):
            value = boolean(text)
        elif name not in CHOICES:
            try:
                value = int(text) if isinstance(default, int) else float(text)
            except ValueError:
                value = text  # session_setting says what it should be
        return session_setting(name, value)

    return parse


def language_code(text: str) -> str:
    if not is_language_code(text):
        raise ValueError("expected auto or a language code such as en, fr, de")
    return text


def non_empty(text: str) -> str:
    if not text.strip():
        raise ValueError("expected a non-empty value")
    return text


def any_text(text: str) -> str:
    return text.strip()


def port_range(text: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    port = int_in(1024, 65535)
    try:
        ports = (port(low), port(high))
    except ValueError:
        raise ValueError("expected two ports from 1024 to 65535, such as 10000-20000") from None
    if not dash or ports[0] >= ports[1]:  # an even port for RTP, the next one for RTCP
        raise ValueError("expected two ports from 1024 to 65535, such as 10000-20000")
    return ports


def sip_transports(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip().lower() for name in text.split(",") if name.strip()))
    if not names or not set(names) <= {"udp", "tcp"}:
        raise ValueError("expected udp, tcp or udp,tcp")
    return names


def sip_users(text: str) -> dict[str, str]:
    users = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, colon, password = entry.partition(":")
        if not colon or not name or not password:
            raise ValueError("expected user:password pairs separated by commas")
        users[name] = password
    return users

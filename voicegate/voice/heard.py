"""What a caller heard of an answer cut short, from the client's ``played`` marks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Heard:
    """The part of an interrupted answer the caller heard: ``ms`` of its audio (the last
    ``played`` mark before the cut) and the words those milliseconds hold."""

    ms: int
    text: str

    def as_dict(self) -> dict[str, object]:
        """JSON-safe: ``{"text": ..., "interrupted_at_ms": ...}``."""
        return {"text": self.text, "interrupted_at_ms": self.ms}


def words_heard(pieces: Sequence[tuple[str, float]], played_ms: int) -> str:
    """The words within the first ``played_ms`` of an answer spoken as ``pieces`` (each a
    clause's text and its audio in milliseconds, in order): every clause played to its end,
    then of the clause cut, the share of its words that its played share of audio holds."""
    heard: list[str] = []
    left = float(played_ms)
    for text, ms in pieces:
        words = text.split()
        if left >= ms:
            heard += words
            left -= ms
            continue
        heard += words[: int(len(words) * left / ms)] if ms > 0 else []
        break
    return " ".join(heard)

"""Words of a transcript, and runs of a repeated word or phrase in them."""

from __future__ import annotations

import re
from collections.abc import Sequence

_NON_WORD = re.compile(r"[^\w']+")


def words(text: str) -> list[str]:
    """Lower-case words, in any script, with punctuation removed (``"Hello, world!"`` ->
    ``["hello", "world"]``, ``"¿Días?"`` -> ``["días"]``)."""
    return [word.strip("'") for word in _NON_WORD.split(text.lower()) if word.strip("'")]


def repeated_run(words: Sequence[str], times: int) -> tuple[int, int] | None:
    """The first word or phrase said ``times`` times in a row, as ``(start, phrase length)``.

    ``repeated_run("yes yes yes".split(), 3) == (0, 1)``; ``None`` when there is none.
    Shorter phrases are found first, so ``"no no no no"`` reports the single word.
    """
    count = len(words)
    for size in range(1, count // times + 1):
        for start in range(count - size * times + 1):
            phrase = words[start : start + size]
            if all(
                words[start + k * size : start + (k + 1) * size] == phrase for k in range(1, times)
            ):
                return start, size
    return None


def repeated_opening(words: Sequence[str]) -> int | None:
    """The length of the phrase that ``words`` say two or more times and nothing else (the
    last copy may be cut short): ``"50 50 50"`` -> 1, ``"no more messages no more messages
    no"`` -> 3; None when they say anything else."""
    count = len(words)
    for size in range(1, count // 2 + 1):
        if all(words[index] == words[index % size] for index in range(size, count)):
            return size
    return None


def restarted_tail(words: Sequence[str]) -> bool:
    """Whether the words end by starting over: their last two or more words are the words
    they open with (``"parking attempt failed parking attempt"``), a copy cut short. A phrase
    said again inside the text (``"record your greeting or erase your greeting"``) is not."""
    count = len(words)
    return any(words[count - size :] == words[:size] for size in range(2, count // 2 + 1))

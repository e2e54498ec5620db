"""Word error rate: how far a transcript is from a reference, for tests and benchmarks."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NON_WORD = re.compile(r"[^a-z0-9']+")


def normalize_words(text: str) -> list[str]:
    """Lower-case words with punctuation removed (``"Hello, world!"`` -> ``["hello", "world"]``)."""
    return [word.strip("'") for word in _NON_WORD.split(text.lower()) if word.strip("'")]


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Fewest word substitutions, insertions and deletions turning one list into the other."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1]


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER over ``(reference, hypothesis)`` pairs: total edits / total reference words."""
    edits = words = 0
    for reference, hypothesis in pairs:
        ref_words = normalize_words(reference)
        edits += edit_distance(ref_words, normalize_words(hypothesis))
        words += len(ref_words)
    if words == 0:
        raise ValueError("word_error_rate needs at least one reference word")
    return edits / words

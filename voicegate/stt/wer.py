"""Word error rate as the speech community scores it: Whisper's English text normaliser,
then ``jiwer``'s word alignment (the ``bench`` and ``serve`` extras install both)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

_WORD = re.compile(r"\w")


@dataclass(frozen=True, slots=True)
class WordErrors:
    """Word-level edits of hypotheses against references, summed over a corpus."""

    reference_words: int
    substitutions: int
    deletions: int
    insertions: int

    @property
    def rate(self) -> float:
        """Word error rate: all edits over the reference's words."""
        return (self.substitutions + self.deletions + self.insertions) / self.reference_words

    @property
    def insertion_rate(self) -> float:
        """Inserted words over the reference's words."""
        return self.insertions / self.reference_words


@cache
def _normalizer() -> Callable[[str], str]:
    from whisper_normalizer.english import EnglishTextNormalizer

    normalizer: Callable[[str], str] = EnglishTextNormalizer()
    return normalizer


def normalize(text: str) -> str:
    """``text`` as Whisper's English normaliser writes it (case, punctuation, numbers,
    spellings), without the lone ``.`` it leaves for an ellipsis: a mark is not a word."""
    return " ".join(token for token in _normalizer()(text).split() if _WORD.search(token))


def word_errors(pairs: Iterable[tuple[str, str]]) -> WordErrors:
    """Edits over ``(reference, hypothesis)`` pairs; pairs whose reference normalises to
    nothing are skipped. Raises ``ValueError`` when no reference has a word."""
    import jiwer

    references, hypotheses = [], []
    for reference, hypothesis in pairs:
        if reference := normalize(reference):
            references.append(reference)
            hypotheses.append(normalize(hypothesis))
    if not references:
        raise ValueError("word_error_rate needs at least one reference word")
    output = jiwer.process_words(references, hypotheses)
    return WordErrors(
        reference_words=sum(len(reference.split()) for reference in references),
        substitutions=output.substitutions,
        deletions=output.deletions,
        insertions=output.insertions,
    )


def word_error_rate(pairs: Iterable[tuple[str, str]]) -> float:
    """Corpus WER over ``(reference, hypothesis)`` pairs."""
    return word_errors(pairs).rate

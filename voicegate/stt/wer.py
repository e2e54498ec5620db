"""Word error rate as the speech community scores it: Whisper's English text normaliser
(its basic one, which keeps accents, for other languages), then ``jiwer``'s word alignment
(the ``bench`` and ``serve`` extras install both)."""

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
def _normalizer(english: bool) -> Callable[[str], str]:
    from whisper_normalizer.basic import BasicTextNormalizer
    from whisper_normalizer.english import EnglishTextNormalizer

    normalizer: Callable[[str], str] = EnglishTextNormalizer() if english else BasicTextNormalizer()
    return normalizer


def normalize(text: str, language: str = "en") -> str:
    """``text`` as Whisper's normaliser for ``language`` writes it (case, punctuation; for
    English numbers and spellings too), without the lone ``.`` it leaves for an ellipsis:
    a mark is not a word."""
    normalized = _normalizer(language == "en")(text)
    return " ".join(token for token in normalized.split() if _WORD.search(token))


def word_errors(pairs: Iterable[tuple[str, str]], language: str = "en") -> WordErrors:
    """Edits over ``(reference, hypothesis)`` pairs in ``language``; pairs whose reference
    normalises to nothing are skipped. Raises ``ValueError`` when no reference has a word."""
    import jiwer

    references, hypotheses = [], []
    for reference, hypothesis in pairs:
        if reference := normalize(reference, language):
            references.append(reference)
            hypotheses.append(normalize(hypothesis, language))
    if not references:
        raise ValueError("word_error_rate needs at least one reference word")
    output = jiwer.process_words(references, hypotheses)
    return WordErrors(
        reference_words=sum(len(reference.split()) for reference in references),
        substitutions=output.substitutions,
        deletions=output.deletions,
        insertions=output.insertions,
    )


def word_error_rate(pairs: Iterable[tuple[str, str]], language: str = "en") -> float:
    """Corpus WER over ``(reference, hypothesis)`` pairs in ``language``."""
    return word_errors(pairs, language).rate

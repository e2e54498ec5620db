"""The word error rate helper the round-trip test and the benchmark rely on."""

from __future__ import annotations

import pytest

from voicegate.stt.wer import edit_distance, normalize_words, word_error_rate


def test_normalize_drops_case_and_punctuation() -> None:
    assert normalize_words("Hello, World! It's 'fine'.") == ["hello", "world", "it's", "fine"]


@pytest.mark.parametrize(
    ("reference", "hypothesis", "distance"),
    [
        ("a b c", "a b c", 0),
        ("a b c", "a x c", 1),
        ("a b c", "a c", 1),
        ("a b c", "a b c d", 1),
        ("a b c", "", 3),
        ("", "a b", 2),
        ("kitten sat down", "sitting sat", 2),
    ],
)
def test_edit_distance(reference: str, hypothesis: str, distance: int) -> None:
    assert edit_distance(reference.split(), hypothesis.split()) == distance


def test_corpus_wer_weights_by_reference_words() -> None:
    pairs = [("one two three four", "one two three four"), ("five six", "five seven")]
    assert word_error_rate(pairs) == pytest.approx(1 / 6)


def test_wer_needs_reference_words() -> None:
    with pytest.raises(ValueError, match="at least one reference word"):
        word_error_rate([("", "anything")])

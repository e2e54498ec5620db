"""The word error rate every test and benchmark scores with: Whisper's normaliser, then jiwer."""

from __future__ import annotations

import pytest

from voicegate.stt.wer import normalize, word_error_rate, word_errors


def test_normalize_is_whispers_english_normaliser_without_lone_marks() -> None:
    assert normalize("Hello, World! It's fine.") == "hello world it is fine"
    assert normalize("Fifty.") == normalize("50") == "50"
    assert normalize("This message lasts ...") == "this message lasts"


def test_edits_are_counted_by_kind() -> None:
    errors = word_errors(
        [
            ("turn on the kitchen lights", "turn on the kitchen lights"),
            ("send the report", "sent the report now"),
            ("call my sister tonight", "call sister"),
        ]
    )
    assert errors.reference_words == 12
    assert (errors.substitutions, errors.insertions, errors.deletions) == (1, 1, 2)
    assert errors.rate == pytest.approx(4 / 12)
    assert errors.insertion_rate == pytest.approx(1 / 12)


def test_corpus_wer_weights_by_reference_words() -> None:
    pairs = [("good morning to you all", "good morning to you all"), ("red car", "red bar")]
    assert word_error_rate(pairs) == pytest.approx(1 / 7)


def test_wer_needs_reference_words() -> None:
    with pytest.raises(ValueError, match="at least one reference word"):
        word_error_rate([("", "anything"), ("...", "more")])

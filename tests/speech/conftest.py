"""Sentences for the speech tests (the real models are fixtures of tests/conftest.py)."""

from __future__ import annotations

import pytest

SENTENCES = (
    "Please turn on the kitchen lights.",
    "What is the weather like tomorrow morning?",
    "The quick brown fox jumps over the lazy dog.",
    "Can you remind me to call my mother on Sunday?",
    "Our meeting has been moved to Thursday afternoon.",
    "Thank you very much for your help today.",
    "Please send the report to the whole team before the end of the week.",
    "I would like to book a table for four people tonight.",
    "The train was late again, so I missed the first part of the presentation.",
    "Could you play some relaxing music in the living room?",
    "She bought fresh bread, cheese and apples at the market.",
    "How far is the nearest hospital from here?",
)


@pytest.fixture(scope="session")
def sentences() -> tuple[str, ...]:
    """Varied English sentences without digits (Whisper writes numbers as digits)."""
    return SENTENCES

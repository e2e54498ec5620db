"""The pieces an answer is synthesised in: its first phrase first, then clauses."""

from __future__ import annotations

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.tts.base import (
    LEAD_IN_S,
    PHRASE_GAP_S,
    SpeechPiece,
    speech_pieces,
    trim_lead_in,
    trim_phrase_end,
)


def test_the_first_piece_is_the_first_phrase_and_the_rest_follows_as_split() -> None:
    assert speech_pieces("Book a table for two people this evening. See you then.") == [
        SpeechPiece("Book a table", phrase=True, opening=True),
        SpeechPiece("for two people this evening."),
        SpeechPiece("See you then."),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Where did I park the car?",  # no word that opens a phrase
        "Turn it on for me.",  # "for" leaves fewer than three words after it
        "Go to the station.",  # "to" and "the" come before the third word
        "",
    ],
)
def test_a_sentence_without_a_phrase_end_far_enough_in_is_spoken_whole(text: str) -> None:
    assert all(not piece.phrase for piece in speech_pieces(text))
    assert [piece.text for piece in speech_pieces(text)] == ([text] if text else [])
    assert [piece.opening for piece in speech_pieces(text)] == ([True] if text else [])


def test_a_phrase_keeps_a_short_gap_after_its_last_sound() -> None:
    rate = 16000
    sound = (8000 * np.sin(np.arange(rate // 2) * 0.3)).astype(np.int16)
    tail = np.zeros(rate // 5, np.int16)  # 200 ms of the voice's trailing silence
    faint = np.full(rate // 10, 40, np.int16)  # and a hiss 46 dB under the sound
    audio = AudioFrame(np.concatenate([sound, faint, tail]), rate)
    trimmed = trim_phrase_end(audio)
    assert trimmed.num_samples == len(sound) + round(PHRASE_GAP_S * rate)
    assert np.array_equal(trimmed.samples[: len(sound), 0], sound)
    silent = AudioFrame(np.zeros(rate, np.int16), rate)
    assert trim_phrase_end(silent).num_samples == rate


def test_an_opening_keeps_a_short_lead_in_before_its_first_sound() -> None:
    rate = 16000
    lead = np.zeros(rate * 3 // 10, np.int16)  # 300 ms of silence, as Piper sometimes opens
    faint = np.full(rate // 10, 40, np.int16)  # and a hiss 46 dB under the sound
    sound = (8000 * np.sin(np.arange(rate // 2) * 0.3)).astype(np.int16)
    audio = AudioFrame(np.concatenate([lead, faint, sound]), rate)
    trimmed = trim_lead_in(audio)
    first_sound = len(lead) + len(faint) + 1  # sin(0) is silent
    assert trimmed.num_samples == len(audio.samples) - first_sound + round(LEAD_IN_S * rate)
    assert np.array_equal(trimmed.samples[-len(sound) :, 0], sound)
    assert trim_lead_in(AudioFrame(sound[1:], rate)).num_samples == len(sound) - 1
    silent = AudioFrame(np.zeros(rate, np.int16), rate)
    assert trim_lead_in(silent).num_samples == rate

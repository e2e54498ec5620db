"""Text-to-speech contract: ``TTSProvider`` and the pieces it streams by.

:func:`split_for_speech` cuts text at sentences and clauses (the pieces of a streamed
answer's room events too); :func:`speech_pieces` also makes an answer's first piece its
first phrase, so that the caller, who waits in silence, hears it after the synthesis of a
few words instead of a whole sentence, and marks it as the answer's opening, whose leading
silence a voice trims (:func:`trim_lead_in`): Piper opened 7 of 8 renderings of "How is the
weather in Paris today?" with 270-300 ms of silence under -80 dBFS, which the caller would
wait through.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import AudioFrame

MIN_CLAUSE_WORDS = 4
"""A clause shorter than this is spoken together with what follows it."""
MAX_PIECE_WORDS = 16
MAX_PIECE_CHARS = 160
"""A piece longer than this (in words or characters) is cut between words: a voice's memory
grows with the longest piece it ever spoke (Piper kept 650 MiB after one 120-word piece)."""

PHRASE_OPENERS = frozenset([
    "a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "this", "these",
    "those", "to", "for", "of", "at", "in", "on", "with", "from", "by", "into", "about",
    "after", "before", "and", "or", "but", "because", "if", "when", "where", "which", "who",
])  # fmt: skip
"""Words that begin a phrase: an answer's first piece ends before one of them."""
FIRST_PHRASE_WORDS = 3
"""The fewest words on each side of the first phrase's end: a shorter first sentence is
spoken whole."""
PHRASE_GAP_S = 0.04
"""The silence kept after a first phrase's last sound: its voice's own trailing silence
(90-200 ms for Piper) and the next piece's leading one would make a pause mid-sentence."""
SOUND_FLOOR_DB = 40.0
"""A piece's sound is its samples within this many dB of its loudest: a first phrase ends at
its last one, an answer starts at its first."""
LEAD_IN_S = 0.02
"""The silence kept before an answer's first sound."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")


def split_for_speech(text: str, min_clause_words: int = MIN_CLAUSE_WORDS) -> list[str]:
    """Split ``text`` at sentence ends, and at ``, ; :`` where both sides stay natural;
    cut what is still longer than :data:`MAX_PIECE_WORDS` or :data:`MAX_PIECE_CHARS`
    between words.

    A clause is cut off only once it has ``min_clause_words`` words; a short tail joins
    the clause before it, so no piece is a stray word or two (unless the sentence is).
    """
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        sentence_pieces: list[str] = []
        current = ""
        for clause in _CLAUSE_END.split(sentence):
            current = f"{current} {clause}".strip()
            if len(current.split()) >= min_clause_words:
                sentence_pieces.append(current)
                current = ""
        if current and sentence_pieces:
            sentence_pieces[-1] = f"{sentence_pieces[-1]} {current}"
        elif current:
            sentence_pieces.append(current)
        pieces.extend(cut for piece in sentence_pieces for cut in _bounded(piece))
    return pieces


@dataclass(frozen=True, slots=True)
class SpeechPiece:
    """A piece of an answer, synthesised on its own; ``phrase``: it ends mid-sentence, at
    the end of the answer's first phrase, and its audio's trailing silence is trimmed
    (:func:`trim_phrase_end`); ``opening``: it is the answer's first piece, and its audio's
    leading silence is trimmed (:func:`trim_lead_in`)."""

    text: str
    phrase: bool = False
    opening: bool = False


def speech_pieces(text: str, min_clause_words: int = MIN_CLAUSE_WORDS) -> list[SpeechPiece]:
    """The pieces of :func:`split_for_speech`, the first cut before its first word of
    :data:`PHRASE_OPENERS` that has :data:`FIRST_PHRASE_WORDS` words or more on each side
    ("Book a table | for two people this evening."); the first piece is the ``opening``."""
    pieces = [SpeechPiece(piece) for piece in split_for_speech(text, min_clause_words)]
    if not pieces:
        return pieces
    words = pieces[0].text.split()
    for cut in range(FIRST_PHRASE_WORDS, len(words) - FIRST_PHRASE_WORDS + 1):
        if words[cut].lower() in PHRASE_OPENERS:
            head = SpeechPiece(" ".join(words[:cut]), phrase=True, opening=True)
            return [head, SpeechPiece(" ".join(words[cut:])), *pieces[1:]]
    return [SpeechPiece(pieces[0].text, opening=True), *pieces[1:]]


def trim_phrase_end(audio: AudioFrame) -> AudioFrame:
    """``audio`` of a first phrase up to :data:`PHRASE_GAP_S` after its last sound."""
    sound = _sound(audio)
    if not len(sound):
        return audio
    end = int(sound[-1]) + 1 + round(PHRASE_GAP_S * audio.sample_rate)
    return AudioFrame(audio.samples[:end], audio.sample_rate)


def trim_lead_in(audio: AudioFrame) -> AudioFrame:
    """``audio`` of an answer's opening from :data:`LEAD_IN_S` before its first sound."""
    sound = _sound(audio)
    if not len(sound):
        return audio
    start = max(0, int(sound[0]) - round(LEAD_IN_S * audio.sample_rate))
    return AudioFrame(audio.samples[start:], audio.sample_rate, audio.timestamp)


def _sound(audio: AudioFrame) -> npt.NDArray[np.intp]:
    """The indices of ``audio``'s samples within :data:`SOUND_FLOOR_DB` of its loudest
    (none in silence)."""
    level = np.abs(audio.samples.astype(np.int32)).max(axis=1)
    if not level.any():
        return np.zeros(0, np.intp)
    return np.flatnonzero(level > level.max() * 10 ** (-SOUND_FLOOR_DB / 20))


def _bounded(piece: str) -> list[str]:
    """``piece`` cut between words into pieces within the bounds, the first ones full."""
    words = piece.split()
    if len(words) <= MAX_PIECE_WORDS and len(piece) <= MAX_PIECE_CHARS:
        return [piece]
    cuts: list[str] = []
    current: list[str] = []
    length = -1  # the joined length of ``current``: words and the spaces between them
    for word in words:
        if current and (
            len(current) == MAX_PIECE_WORDS or length + 1 + len(word) > MAX_PIECE_CHARS
        ):
            cuts.append(" ".join(current))
            current, length = [], -1
        current.append(word)
        length += 1 + len(word)
    cuts.append(" ".join(current))
    return cuts


class TTSProvider(ABC):
    """Speech synthesis, whole or streamed piece by piece."""

    sample_rate: int

    @abstractmethod
    async def synthesize(self, text: str) -> AudioFrame:
        """All of ``text`` as one frame."""

    @abstractmethod
    def synthesize_stream(self, text: str) -> AsyncGenerator[AudioFrame, None]:
        """One frame per piece of :func:`speech_pieces` (an opening's trimmed by
        :func:`trim_lead_in`, a phrase's by :func:`trim_phrase_end`), each as soon as it is
        ready; leaving the iteration stops synthesis at the next piece."""

    async def warm_up(self) -> None:
        """Pay first-call costs now so the first real caller does not."""
        await self.synthesize("Hello, this is a warm up.")

    def close(self) -> None:  # noqa: B027 - providers without resources need no close
        """Release the model and its worker."""

"""Text-to-speech contract: ``TTSProvider`` and the sentence/clause splitter it streams by."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator

from voicegate.audio.frame import AudioFrame

MIN_CLAUSE_WORDS = 4
"""A clause shorter than this is spoken together with what follows it."""
MAX_PIECE_WORDS = 16
MAX_PIECE_CHARS = 160
"""A piece longer than this (in words or characters) is cut between words: a voice's memory
grows with the longest piece it ever spoke (Piper kept 650 MiB after one 120-word piece)."""

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
        """One frame per sentence or clause (see :func:`split_for_speech`), each as soon
        as it is ready; leaving the iteration stops synthesis at the next piece."""

    async def warm_up(self) -> None:
        """Pay first-call costs now so the first real caller does not."""
        await self.synthesize("Hello, this is a warm up.")

    def close(self) -> None:  # noqa: B027 - providers without resources need no close
        """Release the model and its worker."""

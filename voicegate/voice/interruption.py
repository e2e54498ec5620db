"""Whether the caller's speech interrupts an answer: the strategies, acknowledgements, echo.

A :class:`Contest` follows one utterance that began while an answer was being prepared
or played. It hears how long the speech has lasted and, as they come, its words (the
partial transcripts, then the final one), and answers with a :class:`Verdict`:
interrupt now, wait, or let the answer go on and drop the speech (an acknowledgement
under ``semantic``, or an echo). The echo guard holds for every strategy: speech whose
words are only words of the answers being played, consecutive and in order, is their
echo (a speakerphone without echo cancellation), neither a turn nor an interruption.
Under ``semantic`` the sound decides too: speech whose level follows the answer's (the
echo canceller's judgement, ``echo``) is its echo whatever words the recogniser made of
it (Whisper hears "on the time" in a leaked "once upon a time").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from voicegate.stt.text import words
from voicegate.voice.session import InterruptionStrategy

ACKNOWLEDGEMENTS: tuple[str, ...] = (
    "uh-huh", "mm-hmm", "mhm", "mm", "hmm", "hm", "uh huh", "um-hum",
    "yeah", "yes", "yep", "yup", "yeah yeah", "right", "all right", "alright",
    "ok", "okay", "sure", "sure thing", "i see", "got it", "gotcha", "understood",
    "go on", "go ahead", "oh", "ah", "aha", "oh okay", "oh i see", "oh right",
    "exactly", "true", "indeed", "of course", "absolutely", "definitely", "totally",
    "cool", "nice", "great", "good", "perfect", "wow", "interesting",
    "that's right", "that's true", "makes sense", "sounds good",
    "thanks", "thank you",
    "uh", "ow", "and mm", "and hmm",
)  # fmt: skip
"""English acknowledgements, said to show attention, not to take the turn. "uh" and "ow"
are what Whisper writes, besides "oh" and "ah", for a short "uh-huh" (Piper's, 0.24 s:
which of the four depends on where it starts in the window); "uh" followed by other words
is no acknowledgement. "and mm" is what Whisper tiny.en wrote for espeak-ng's "mm-hmm"
(its partials "Mm", "Mmmmm", "And then..."). Left out on
purpose: what asks to stop or repeat ("wait", "huh", "sorry"), disagrees ("no", "but") or
opens a turn ("um", "well", "so")."""
ACKNOWLEDGEMENT_PROMPT = "Mm-hmm. Uh-huh."
"""``semantic``: what the recogniser is prompted with (to Whisper, the text before the
audio) while speech over an answer may still be an acknowledgement; once it interrupts, it
is a turn, recognised without it. Unprompted, Whisper tiny.en writes a hummed "mm-hmm" as
words ("in a month.", "enough.", "and anthem."), which interrupt. In the eval's
acknowledgements (30 a run, five voices), false barge-ins were 3-4 of 30 unprompted (two
runs, every one an "mm-hmm"), 1 of 30 with this prompt and 2 with "Mm-hmm." alone (which
turned espeak-ng's British "uh-huh" into "F-"); real interruptions' reaction p50 was 315-322
ms unprompted and 322 ms prompted (``benchmarks/results/acknowledgement_prompt/``)."""
MAX_ACKNOWLEDGEMENT_WORDS = 4
"""Longer speech is someone talking, whatever its words."""
SEMANTIC_FIRST_LOOK_MS = 200
"""``semantic``: how much speech is transcribed the first time, for its first words."""
SEMANTIC_WAIT_MS = 1000
"""``semantic``: speech whose words have not decided yet (the start of an acknowledgement,
"thank" or "uh") interrupts once it has gone on this long. Speech without words of its own
never interrupts on its length: what an echo canceller lets through while it looks for a
new echo path (after the server or the client fell behind) is 0.5-1 s of the answer's
sound in which the recogniser hears no words, or only the answer's."""

_REPEATED = re.compile(r"(\w)\1+")
_HUM = re.compile(r"(?=[nh]*m)[mnh]{2,}o?")
"""A hum as Whisper spells it: two or more of m, n and h, one an m, perhaps an o after them.
Whisper tiny.en wrote the voices' "mm-hmm" as "mmmo", "NMM.", "NMO" and "MMM." (besides
words such as "in the month."); no English word is spelt so ("no" has one such letter)."""
_SPELLED = re.compile(r"(?<![\w-])[a-z](?:-[a-z])+(?![\w-])", re.IGNORECASE)
_SPELLED_HUM = re.compile(r"(?=.*m)(?:[aho-]*[mnh]){2}[mnhao-]*", re.IGNORECASE)
"""A hum Whisper spells letter by letter (:data:`_SPELLED`, single letters joined by
hyphens): m, n, h, a and o, two or more of them m, n or h, one an m ("M-H-M", and
"N-M-A-M" for Piper's "mm-hmm"); not "N-O" or "A-M"."""


_JOINED_HUM = re.compile(r"(?<![\w-])(?=[\w-]*m)[mnh]+(?:-[mnh]+)+(?![\w-])", re.IGNORECASE)
"""A hum Whisper writes in hyphenated parts of m, n and h, one an m: "N-m-hmm." (Piper's
"mm-hmm", prompted with :data:`ACKNOWLEDGEMENT_PROMPT`)."""


def _folded(text: str) -> tuple[str, ...]:
    """Words with each repeated letter once: "hmmm", "hmm" and "hm" are one word; a hum
    (:data:`_HUM`, :data:`_SPELLED_HUM`, :data:`_JOINED_HUM`) is "mm"."""
    text = _JOINED_HUM.sub("mm", text)
    text = _SPELLED.sub(lambda m: "mm" if _SPELLED_HUM.fullmatch(m[0]) else m[0], text)
    return tuple(
        "m" if _HUM.fullmatch(word) else _REPEATED.sub(r"\1", word) for word in words(text)
    )


_PHRASES = frozenset(_folded(phrase) for phrase in ACKNOWLEDGEMENTS)
_LONGEST = max(len(phrase) for phrase in _PHRASES)


def _split_points(heard: tuple[str, ...]) -> list[bool]:
    """For each ``i``, whether ``heard[:i]`` splits into known phrases."""
    reachable = [True] + [False] * len(heard)
    for start in range(len(heard)):
        if reachable[start]:
            for size in range(1, min(_LONGEST, len(heard) - start) + 1):
                if heard[start : start + size] in _PHRASES:
                    reachable[start + size] = True
    return reachable


def is_acknowledgement(text: str) -> bool:
    """Whether ``text`` has words and is made only of acknowledgements ("yeah, okay")."""
    heard = _folded(text)
    if not heard or len(heard) > MAX_ACKNOWLEDGEMENT_WORDS:
        return False
    return _split_points(heard)[-1]


def _opens_phrase(rest: tuple[str, ...]) -> bool:
    """Whether some phrase begins with ``rest``, whose last word may be cut short."""
    *whole, last = rest
    return any(
        len(phrase) >= len(rest)
        and list(phrase[: len(whole)]) == whole
        and phrase[len(whole)].startswith(last)
        for phrase in _PHRASES
    )


def may_be_acknowledgement(text: str) -> bool:
    """Whether a partial transcript ``text`` is, or may still grow into, acknowledgements:
    known phrases, then the start of one ("thank" of "thank you", "Uh" of "uh-huh"; the
    last word may be cut short)."""
    heard = _folded(text)
    if not heard or len(heard) > MAX_ACKNOWLEDGEMENT_WORDS:
        return False
    reachable = _split_points(heard)
    return any(reachable[start] and _opens_phrase(heard[start:]) for start in range(len(heard)))


def echoes(heard: str, said: str, *, partial: bool = False) -> bool:
    """Whether ``heard`` is only words of ``said``, consecutive and in order.

    A ``partial`` transcript may end inside a word, so its last word may be the start of
    the answer's word (after at least one whole word).
    """
    spoken, answer = words(heard), words(said)
    if not spoken:
        return False
    *whole, last = spoken
    size = len(spoken)
    cut_short = partial and bool(whole)
    for start in range(len(answer) - size + 1):
        candidate = answer[start : start + size]
        if candidate[:-1] == whole and (
            candidate[-1].startswith(last) if cut_short else candidate[-1] == last
        ):
            return True
    return False


class Verdict(Enum):
    """What a :class:`Contest` makes of the speech so far."""

    WAIT = "wait"
    """Not decided yet."""
    INTERRUPT = "interrupt"
    """Stop the answer: the caller takes the turn."""
    KEEP = "keep"
    """The answer goes on and the speech is still a turn (``confirmed`` too short,
    ``disabled``, or the answer ended before the speech did)."""
    ACKNOWLEDGEMENT = "acknowledgement"
    """An acknowledgement under ``semantic``: no interruption and no turn."""
    ECHO = "echo"
    """The answer's own echo: no interruption and no turn."""


@dataclass(slots=True)
class Contest:
    """One utterance begun while an answer was being prepared (``during="thinking"``) or
    played (``"speaking"``), judged with ``strategy``."""

    strategy: InterruptionStrategy
    during: str
    barge_in_ms: int
    heard_words: bool = False
    """Whether its words so far included some that are not the answer's echo."""
    unlike_acknowledgement: bool = False
    """``semantic``: whether the last partial transcript's words could not be an
    acknowledgement's. One such partial does not interrupt, the next one that agrees does:
    Whisper's first looks at a short sound make words up ("I'll..." for 0.2 s of a
    0.24 s "uh-huh", whose next partial and final were "Ow.")."""

    def on_speech(self, spoken_ms: float, *, echo: bool = False) -> Verdict:
        """The speech has lasted ``spoken_ms`` (no words yet, or none that decided);
        ``echo``: its sound is the answer's echo (``semantic`` waits)."""
        match self.strategy:
            case InterruptionStrategy.IMMEDIATE:
                return Verdict.INTERRUPT
            case InterruptionStrategy.CONFIRMED if spoken_ms >= self.barge_in_ms:
                return Verdict.INTERRUPT
            case InterruptionStrategy.SEMANTIC if (
                self.heard_words and not echo and (spoken_ms >= SEMANTIC_WAIT_MS)
            ):
                return Verdict.INTERRUPT
        return Verdict.WAIT

    def on_words(self, text: str, answer_text: str, *, final: bool, echo: bool = False) -> Verdict:
        """The words heard so far (``final``: all of them) against the answer's text;
        ``echo``: their sound is the answer's echo, so under ``semantic`` they are too,
        whatever the recogniser made of it."""
        semantic = self.strategy is InterruptionStrategy.SEMANTIC
        if echoes(text, answer_text, partial=not final) or (echo and semantic):
            return Verdict.ECHO if final else Verdict.WAIT
        self.heard_words = self.heard_words or bool(words(text))
        if semantic:
            if final and is_acknowledgement(text):
                return Verdict.ACKNOWLEDGEMENT
            if not final and may_be_acknowledgement(text):
                self.unlike_acknowledgement = False
                return Verdict.WAIT  # more words, the final or SEMANTIC_WAIT_MS decide
            if words(text):
                if final or self.unlike_acknowledgement:
                    return Verdict.INTERRUPT
                self.unlike_acknowledgement = True
                return Verdict.WAIT  # the next partial confirms these words, or not
        return Verdict.KEEP if final else Verdict.WAIT  # (under semantic: speech without words)

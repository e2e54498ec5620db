"""Whether a transcript stops mid-phrase ("a table for", "my name is John and I"), so that
no pause, however long the model finds it complete, ends the turn before ``max_silence_ms``.

A wrong "unfinished" costs a turn the rest of ``max_silence_ms`` (a caller who ends on
"I'd love to" waits 1.5 s for the answer); a wrong "finished" lets the end-of-turn model
cut a caller off in a pause, which the model alone does not prevent: on a synthetic
"Can you tell me the weather in" it gave 0.97 complete after 400 ms of pause.
"""

from __future__ import annotations

from voicegate.stt.text import words

PREPOSITIONS = frozenset(
    [
        "of", "to", "for", "at", "with", "from", "into", "onto", "between", "during",
        "without", "within", "as", "than",
    ]
)  # fmt: skip
"""Prepositions that no phrasal verb ends a statement with, and that a question whose
object went to its front may end with ("what is it for?")."""
PARTICLES = frozenset(["in", "on"])
"""Prepositions that are also a phrasal verb's last word ("log in", "turn it on"): they
stop mid-phrase unless the word before them is one of :data:`PARTICLE_HOSTS`."""
UNFINISHED_ENDINGS = PREPOSITIONS | PARTICLES | frozenset(
    [
        "a", "an", "the", "my", "your", "our", "their",
        "and", "or", "but", "nor", "because", "if", "although", "unless", "whether",
        "i", "we", "he", "she", "they", "i'm", "we're", "you're", "they're", "it's", "let's",
        "there's",
        "um", "uh", "er", "erm",
    ]
)  # fmt: skip
"""Words a statement does not end on: articles, possessives, conjunctions, prepositions,
subject pronouns and hesitations. Words that may end a sentence ("turn it on" aside: see
:data:`PARTICLES`; "yes I do", "I think so") are not here."""
QUESTION_WORDS = frozenset(["what", "who", "whom", "which", "where", "whose"])
"""A question with one of these may end on a preposition ("who are you talking to?");
one without ("could you remind me to?") is cut short."""
_IRREGULAR_HOSTS = ("came", "went", "gone", "got", "held", "kept", "put", "gave", "brought")
_VERB_HOSTS = (
    "come", "go", "get", "log", "sign", "check", "let", "hold", "carry", "move", "keep", "turn",
    "switch", "plug", "fill", "tune", "zoom", "opt", "drop", "stay", "join", "step", "walk",
    "jump", "breathe", "give", "hand", "lock", "bring", "count", "hang", "try", "pass",
)  # fmt: skip
PARTICLE_HOSTS = frozenset(
    [
        "me", "you", "him", "her", "it", "us", "them", "so", "now", "later",
        *_IRREGULAR_HOSTS,
        *(
            form
            for verb in _VERB_HOSTS
            for form in (verb, f"{verb}s", f"{verb}ed", f"{verb}d", f"{verb}ing",
                         f"{verb}{verb[-1]}ed", f"{verb}{verb[-1]}ing", f"{verb[:-1]}ing")
        ),
    ]
)  # fmt: skip
"""Words after which "in" or "on" is a particle that may end a sentence: object pronouns
("let me in", "turn it on"), "and so on", "later on", "from now on", and the forms of
verbs that take them ("log in", "signed in", "moving on"). A form of "be" is not one:
"the weather in" came back from Whisper as "that we're in"."""


def sounds_unfinished(text: str) -> bool:
    """Whether the words stop mid-phrase: on a comma, a dash or an ellipsis (Whisper's mark
    for speech that trails off: "The time will be..."), or on one of
    :data:`UNFINISHED_ENDINGS` that is not a particle after its verb or object ("log in"),
    nor a question's preposition after a question word ("what is it for?")."""
    stripped = text.rstrip()
    if stripped.endswith((",", "-", "—", "...", "…")):
        return True
    spoken = words(stripped)
    if not spoken or spoken[-1] not in UNFINISHED_ENDINGS:
        return False
    last, before = spoken[-1], spoken[-2] if len(spoken) > 1 else ""
    if last in PARTICLES and before in PARTICLE_HOSTS:
        return False
    asked = stripped.endswith("?") and bool(QUESTION_WORDS.intersection(spoken))
    return not (asked and last in PREPOSITIONS | PARTICLES)

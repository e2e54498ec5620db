"""Mutated SDP offers: a real offer with lines dropped, copied, cut or garbled, reproducibly."""

from __future__ import annotations

import random

GARBAGE = ["", "x", "-1", "99999999999999999999", "\x00", "é", "a=b=c", " ", ":::", "0" * 300]


def mutate(sdp: str, rng: random.Random) -> str:
    """``sdp`` with one line dropped, copied elsewhere, cut short or garbled in one place."""
    lines = sdp.split("\r\n")
    index = rng.randrange(len(lines))
    line = lines[index]
    operation = rng.randrange(6)
    if operation == 0:
        del lines[index]
    elif operation == 1:
        lines.insert(index, lines[rng.randrange(len(lines))])
    elif operation == 2:
        words = line.split(" ")
        words[rng.randrange(len(words))] = rng.choice(GARBAGE)
        lines[index] = " ".join(words)
    elif operation == 3:
        lines[index] = line[: rng.randrange(len(line) + 1)]
    elif operation == 4 and ":" in line:
        name, _, value = line.partition(":")
        lines[index] = f"{name}:{rng.choice(GARBAGE)}{value[rng.randrange(len(value) + 1) :]}"
    elif line:
        at = rng.randrange(len(line))
        lines[index] = line[:at] + chr(rng.randrange(32, 127)) + line[at + 1 :]
    return "\r\n".join(lines)


def mutated_offers(sdp: str, count: int, seed: int) -> list[str]:
    """``count`` mutations of ``sdp`` (a third of them mutated twice), the same for a seed."""
    rng = random.Random(seed)
    offers = []
    for _ in range(count):
        offer = mutate(sdp, rng)
        offers.append(mutate(offer, rng) if rng.random() < 0.3 else offer)
    return offers

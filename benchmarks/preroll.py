"""Recognition by the pre-roll: how much audio from before the speech the recogniser gets.

The listener hands Whisper each utterance from ``preroll_ms`` before its first speech frame
(the VAD's onset). Here every item is laid in silence and cut as a session cuts it: webrtcvad
(the default VAD, aggressiveness 2) and the :class:`~voicegate.audio.endpoint.Endpointer` with
each pre-roll, up to 40 ms after the utterance's last sound (where the pass of a pause hears
it); then tiny.en recognises it. Sets: the 551 real prompts of :mod:`voicegate.bench.prompts`
at 16 kHz, the same recordings at 8 kHz as a phone line brings them (resampled to 16 kHz, as
the inbound path does), and the turn-taking eval's sentences in its five synthetic voices
(Piper's rendered twice: each rendering differs).

Per set and pre-roll: word errors (Whisper's normaliser and ``jiwer``), the utterances whose
short decode looked failed and went to the 30 s decode, and the time per utterance (a
failed one counts its short decode twice: once to see it fail, once inside the full
recognition); and, against the first pre-roll, the items heard with fewer and with more
errors. Which way one item goes is chaotic (features within 1e-7 change texts: see
``voicegate/stt/whisper_window.py``), so only a count over many items says anything.

    python benchmarks/preroll.py [--prerolls 200,150,100] [--sets real16,real8,synthetic]
                                 [--limit N]
    python benchmarks/preroll.py --over-answer [--prerolls 200,150]

Writes ``benchmarks/results/preroll/preroll.json`` and ``preroll.png``. ``--over-answer``
instead says the eval's acknowledgements and interruptions in its five voices (Piper's four
times), cut the same way and recognised as speech over an answer is (prompted with
``ACKNOWLEDGEMENT_PROMPT``), and counts per pre-roll the acknowledgements heard as
acknowledgements and the interruptions heard as not: ``over_answer.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from voicegate.audio.endpoint import Endpointer, SpeechStart
from voicegate.audio.frame import AudioFrame
from voicegate.audio.resample import resample
from voicegate.audio.vad import WebRTCVAD
from voicegate.bench.prompts import load_prompts
from voicegate.bench.speech import SENTENCES
from voicegate.bench.turn_eval import leveled
from voicegate.bench.turn_items import (
    ACKNOWLEDGEMENTS,
    CLAUSES,
    COMPLETE,
    INTERRUPTIONS,
    SHORT_INTERRUPTIONS,
    UNFINISHED,
    said,
)
from voicegate.bench.turn_items import Utterance as Said
from voicegate.bench.voices import VOICES, trim
from voicegate.inference import RunAlone
from voicegate.stt.wer import word_errors
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.stt.worker import Utterance
from voicegate.voice.interruption import ACKNOWLEDGEMENT_PROMPT, is_acknowledgement

RESULTS = Path(__file__).resolve().parent / "results" / "preroll"
RATE = 16000
FRAME = RATE // 50
PAUSE_PASS_S = 0.04
"""Where in the pause its pass cuts the utterance (``turn_check_ms``)."""
Item = tuple[str, npt.NDArray[np.int16]]
"""A reference text and its speech at 16 kHz, trimmed of silence."""


def real(rate: int, limit: int | None) -> list[Item]:
    items = []
    for prompt in load_prompts()[:limit]:
        audio = resample(prompt.audio(rate), RATE).samples[:, 0]
        items.append((prompt.text, trim(audio)))
    return items


def renderings(texts: list[str], times: int) -> list[Said]:
    """Every text in every voice, in Piper's voices ``times`` times (each rendering differs)."""
    pipers = tuple(voice for voice in VOICES if voice.engine == "piper")
    return said(VOICES, tuple(texts)) + [
        u for _ in range(times - 1) for u in said(pipers, tuple(texts))
    ]


def synthetic(limit: int | None) -> list[Item]:
    texts = [*COMPLETE, *SENTENCES, *INTERRUPTIONS, *(f"{a} {b}" for a, b in CLAUSES + UNFINISHED)]
    return [(u.text, u.samples) for u in renderings(list(dict.fromkeys(texts)), 2)[:limit]]


SETS: dict[str, Callable[[int | None], list[Item]]] = {
    "real16": lambda limit: real(16000, limit),
    "real8": lambda limit: real(8000, limit),
    "synthetic": synthetic,
}


def as_cut(speech: npt.NDArray[np.int16], preroll_ms: int) -> AudioFrame:
    """``speech`` between silences, as the listener gives its pause's pass to Whisper."""
    stream = np.concatenate([np.zeros(RATE // 2, np.int16), leveled(speech)])
    stream = np.concatenate([stream, np.zeros(2 * RATE, np.int16)])
    vad = WebRTCVAD(2).new_stream()
    endpointer = Endpointer(preroll_ms=preroll_ms, hangover_ms=1500)
    kept: list[AudioFrame] = []
    last_sound = 0.0
    for index in range(len(stream) // FRAME):
        frame = AudioFrame(stream[index * FRAME : (index + 1) * FRAME], RATE, index / 50)
        was_open = endpointer.in_speech
        for event in endpointer.push(frame, vad.is_speech(frame)):
            if isinstance(event, SpeechStart) and not kept:
                kept = [f for f in (event.preroll, event.speech) if f.num_samples]
        if was_open and endpointer.in_speech:
            kept.append(frame)
        if endpointer.in_speech:
            last_sound = endpointer.last_sound_end
    samples = np.concatenate([frame.samples[:, 0] for frame in kept])
    keep = round((last_sound + PAUSE_PASS_S - kept[0].timestamp) * RATE)
    return AudioFrame(samples[:keep], RATE)


def errors(reference: str, heard: str) -> int:
    counted = word_errors([(reference, heard)])
    return counted.substitutions + counted.deletions + counted.insertions


@dataclass(frozen=True, slots=True)
class Row:
    """One set at one pre-roll."""

    preroll_ms: int
    errors: int
    reference_words: int
    fallbacks: int
    fewer_errors: int
    """Items heard with fewer errors than at the first pre-roll."""
    more_errors: int
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True, slots=True)
class SetResult:
    name: str
    items: int
    rows: list[Row]


Heard = tuple[str, str, bool, float]
"""The reference, the text heard, whether the short decode failed, and the seconds taken."""


def row(preroll: int, heard: list[Heard], first: list[int]) -> Row:
    counts = [errors(text, said) for text, said, _, _ in heard]
    times = sorted(1000 * seconds for *_, seconds in heard)
    return Row(
        preroll_ms=preroll,
        errors=sum(counts),
        reference_words=word_errors((text, said) for text, said, _, _ in heard).reference_words,
        fallbacks=sum(failed for _, _, failed, _ in heard),
        fewer_errors=sum(c < f for c, f in zip(counts, first, strict=True)),
        more_errors=sum(c > f for c, f in zip(counts, first, strict=True)),
        p50_ms=round(statistics.median(times), 1),
        p95_ms=round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
    )


def run_set(stt: FasterWhisperSTT, name: str, items: list[Item], prerolls: list[int]) -> SetResult:
    """Every item of a set at every pre-roll; the set's figures."""
    heard: dict[int, list[Heard]] = {p: [] for p in prerolls}
    started = time.monotonic()
    for index, (text, speech) in enumerate(items, 1):
        for preroll in prerolls:
            audio = as_cut(speech, preroll)
            began = time.perf_counter()
            (transcript,) = stt.recognise_batch([Utterance(audio)], leave_slow=True)
            failed = isinstance(transcript, RunAlone)
            said = (transcript.rest() if isinstance(transcript, RunAlone) else transcript).text
            heard[preroll].append((text, said, failed, time.perf_counter() - began))
        if index % 50 == 0 or index == len(items):
            print(
                f"  {name}: {index}/{len(items)}, {time.monotonic() - started:.0f} s, "
                f"load average {os.getloadavg()[0]:.1f}",
                file=sys.stderr,
                flush=True,
            )
    first = [errors(text, said) for text, said, _, _ in heard[prerolls[0]]]
    return SetResult(name, len(items), [row(p, heard[p], first) for p in prerolls])


def print_table(results: list[SetResult]) -> None:
    print(f"\n{'set':<10} {'pre-roll':>8} {'errors':>11} {'fallbacks':>9} {'vs first':>9}", end="")
    print(f" {'p50/p95 ms':>11}")
    for result in results:
        for r in result.rows:
            versus = f"+{r.fewer_errors} -{r.more_errors}"
            print(
                f"{result.name:<10} {r.preroll_ms:>5} ms {r.errors:>5}/{r.reference_words:<5} "
                f"{r.fallbacks:>9} {versus:>9} {r.p50_ms:>5.0f}/{r.p95_ms:<5.0f}"
            )


def plot(results: list[SetResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = [result.name for result in results]
    prerolls = [r.preroll_ms for r in results[0].rows]
    width = 0.8 / len(prerolls)
    for axis, key, title in (
        (axes[0], "errors", "word errors"),
        (axes[1], "fallbacks", "utterances sent to the 30 s decode"),
    ):
        for index, preroll in enumerate(prerolls):
            xs = [i + (index - (len(prerolls) - 1) / 2) * width for i in range(len(names))]
            values = [getattr(result.rows[index], key) for result in results]
            bars = axis.bar(xs, values, width, label=f"pre-roll {preroll} ms")
            axis.bar_label(bars, fontsize=7)
        axis.set_xticks(range(len(names)), names)
        axis.set(title=title)
        axis.legend(fontsize=8)
    fig.suptitle("tiny.en on utterances cut as a session cuts them, by pre-roll")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


@dataclass(frozen=True, slots=True)
class OverAnswerRow:
    """Speech over an answer at one pre-roll: how much of it was heard as meant."""

    preroll_ms: int
    acknowledgements_heard: int
    """Acknowledgements heard as acknowledgements (which do not interrupt)."""
    interruptions_heard: int
    """Interruptions heard as more than acknowledgements (which interrupt)."""
    misheard: list[str]
    """``voice: said -> heard`` for each heard otherwise."""


@dataclass(frozen=True, slots=True)
class OverAnswer:
    acknowledgements: int
    interruptions: int
    rows: list[OverAnswerRow]


def over_answer(stt: FasterWhisperSTT, prerolls: list[int]) -> OverAnswer:
    """The ``--over-answer`` run: acknowledgements and interruptions in every voice."""
    heard_as = renderings([*ACKNOWLEDGEMENTS, *INTERRUPTIONS, *SHORT_INTERRUPTIONS], 4)
    rows = []
    for preroll in prerolls:
        acknowledged = interrupting = 0
        misheard = []
        for utterance in heard_as:
            audio = as_cut(utterance.samples, preroll)
            heard = stt.recognise(audio, prompt=ACKNOWLEDGEMENT_PROMPT).text
            meant = utterance.text in ACKNOWLEDGEMENTS
            if is_acknowledgement(heard) == meant:
                acknowledged += meant
                interrupting += not meant
            else:
                misheard.append(f"{utterance.voice}: {utterance.text} -> {heard}")
        rows.append(OverAnswerRow(preroll, acknowledged, interrupting, misheard))
        print(f"  over an answer, {preroll} ms: done", file=sys.stderr, flush=True)
    acknowledgements = sum(utterance.text in ACKNOWLEDGEMENTS for utterance in heard_as)
    return OverAnswer(acknowledgements, len(heard_as) - acknowledgements, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--prerolls", default="200,150,100", help="ms, the first the baseline")
    parser.add_argument("--sets", default=",".join(SETS), help=f"of {','.join(SETS)}")
    parser.add_argument("--limit", type=int, help="only the first N items of each set")
    parser.add_argument("--over-answer", action="store_true", help="speech over an answer")
    args = parser.parse_args()
    prerolls = [int(value) for value in args.prerolls.split(",")]
    load_before = os.getloadavg()
    stt = FasterWhisperSTT("whisper-tiny.en", language="en")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.over_answer:
        found = over_answer(stt, prerolls)
        (RESULTS / "over_answer.json").write_text(json.dumps(asdict(found), indent=1) + "\n")
        for row in found.rows:
            print(
                f"{row.preroll_ms} ms: acknowledgements {row.acknowledgements_heard} of "
                f"{found.acknowledgements}, interruptions {row.interruptions_heard} of "
                f"{found.interruptions}"
            )
        return
    results = []
    for name in args.sets.split(","):
        print(f"{name}: preparing ...", file=sys.stderr, flush=True)
        results.append(run_set(stt, name, SETS[name](args.limit), prerolls))
    machine = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(load, 1) for load in load_before],
        "load_average_after": [round(load, 1) for load in os.getloadavg()],
    }
    document = {"machine": machine, "results": [asdict(result) for result in results]}
    (RESULTS / "preroll.json").write_text(json.dumps(document, indent=1) + "\n")
    plot(results, RESULTS / "preroll.png")
    print_table(results)


if __name__ == "__main__":
    main()

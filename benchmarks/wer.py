"""Recognition on real speech: voicegate's decode against faster-whisper's own, side by side.

The 551 English Asterisk phone prompts (one voice actor, about 24 minutes; fetched and
cached by :mod:`voicegate.bench.prompts`) are transcribed at 16 kHz (the wideband G.722
recordings) and at 8 kHz (the same recordings as a phone line delivers them) by every
row, one utterance at a time, each row in turn, so all rows share the machine's load.
Scored with Whisper's English normaliser and ``jiwer`` (:mod:`voicegate.stt.wer`).

Per row and rate it reports the WER with its substitutions, deletions and insertions,
the utterances in which a word or phrase comes three times in a row that the reference
does not repeat, and the time per utterance (p50/p95), split by length: under 1 s,
1-3 s, over 3 s. A row is a model and a decode: ``voicegate`` (the default
``FasterWhisperSTT``), ``plain`` (faster-whisper's ``transcribe`` over its 30 s window,
greedy like voicegate) or ``before`` (the looping short-window decode voicegate had before
issue 18, whose speed is the one to match: ``whisper_before.py``); ``--models`` adds rows for
more models of the manifest.

    python benchmarks/wer.py [--models whisper-tiny.en ...] [--rates 16000 8000] [--limit N]
                             [--name wer]
    python benchmarks/wer.py --join wer_16000 wer_8000 --name wer

Writes ``benchmarks/results/<name>.json`` and ``<name>.png`` (``wer`` by default). ``--join``
puts together the results of runs made at the same time, one per rate (each in its own
process: twice the share of a loaded machine), without transcribing anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from whisper_before import BeforeWhisperSTT

from voicegate.bench.prompts import Prompt, load_prompts
from voicegate.stt.base import STTProvider
from voicegate.stt.text import repeated_run, words
from voicegate.stt.wer import normalize, word_errors
from voicegate.stt.whisper import FasterWhisperSTT

RESULTS = Path(__file__).resolve().parent / "results"
BUCKETS: dict[str, Callable[[float], bool]] = {
    "<1 s": lambda seconds: seconds < 1.0,
    "1-3 s": lambda seconds: 1.0 <= seconds <= 3.0,
    ">3 s": lambda seconds: seconds > 3.0,
}
DECODES: dict[str, Callable[[str], STTProvider]] = {
    "voicegate": lambda model: FasterWhisperSTT(model, language="en"),
    "plain": lambda model: FasterWhisperSTT(model, language="en", window_margin=None),
    "before": lambda model: BeforeWhisperSTT(model, language="en"),
}
"""How each decode of a row is built from a manifest model id (the prompts are English)."""


@dataclass(slots=True)
class Heard:
    """One utterance as a row transcribed it."""

    prompt: Prompt
    duration: float
    text: str
    seconds: float


@dataclass(slots=True)
class Row:
    """A model with one decode, and what it heard at one sample rate."""

    model: str
    decode: str
    rate: int
    stt: STTProvider
    heard: list[Heard] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.decode} {self.model.removeprefix('whisper-')}"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def looping(heard: Heard) -> bool:
    """A word or phrase said three times in a row that the reference does not repeat."""
    said = words(normalize(heard.text))
    run = repeated_run(said, 3)
    if run is None:
        return False
    start, size = run
    phrase = " ".join(said[start : start + size])
    return " ".join([phrase] * 3) not in " ".join(words(normalize(heard.prompt.text)))


def summary(heard: Iterable[Heard]) -> dict[str, object]:
    """WER, edits, loops and time per utterance of ``heard``."""
    items = list(heard)
    errors = word_errors((h.prompt.text, h.text) for h in items)
    times = sorted(h.seconds * 1000.0 for h in items)
    return {
        "utterances": len(items),
        "reference_words": errors.reference_words,
        "wer": round(errors.rate, 4),
        "substitutions": errors.substitutions,
        "deletions": errors.deletions,
        "insertions": errors.insertions,
        "insertion_rate": round(errors.insertion_rate, 4),
        "looping_utterances": [h.prompt.name for h in items if looping(h)],
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "total_s": round(sum(times) / 1000.0, 1),
    }


def report(row: Row) -> dict[str, object]:
    """The row's summary over all utterances and per length bucket."""
    result: dict[str, object] = {"row": row.label, "rate": row.rate, "all": summary(row.heard)}
    for name, within in BUCKETS.items():
        result[name] = summary(h for h in row.heard if within(h.duration))
    return result


async def transcribe_all(rows: list[Row], prompts: list[Prompt], rate: int) -> None:
    """Every prompt through every row of ``rate``, the rows taking turns per utterance."""
    started = time.monotonic()
    for index, prompt in enumerate(prompts, 1):
        audio = prompt.audio(rate)
        for row in rows:
            began = time.perf_counter()
            transcript = await row.stt.transcribe(audio)
            row.heard.append(
                Heard(prompt, audio.duration, transcript.text, time.perf_counter() - began)
            )
        if index % 25 == 0 or index == len(prompts):
            elapsed = time.monotonic() - started
            progress(
                f"  {rate} Hz: {index}/{len(prompts)} utterances, {elapsed:.0f} s, "
                f"load average {os.getloadavg()[0]:.1f}"
            )


def print_table(results: list[dict[str, object]]) -> None:
    header = f"{'rate':>6} {'row':<24} {'length':<6} {'WER':>7} {'ins':>5} {'loops':>5} {'p50':>8}"
    print("\n" + header)
    for result in results:
        for bucket in ("all", *BUCKETS):
            s: dict[str, object] = result[bucket]  # type: ignore[assignment]
            loops = len(s["looping_utterances"])  # type: ignore[arg-type]
            print(
                f"{result['rate']:>6} {result['row']!s:<24} {bucket:<6} {s['wer']:>7.2%} "
                f"{s['insertions']:>5} {loops:>5} {s['p50_ms']:>6.0f}ms"
            )


def plot(results: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = sorted({int(r["rate"]) for r in results}, reverse=True)  # type: ignore[call-overload]
    fig, axes = plt.subplots(2, len(rates), figsize=(5.5 * len(rates), 7), squeeze=False)
    buckets = ["all", *BUCKETS]
    for column, rate in enumerate(rates):
        rows = [r for r in results if r["rate"] == rate]
        width = 0.8 / len(rows)
        for index, row in enumerate(rows):
            xs = [i + (index - (len(rows) - 1) / 2) * width for i in range(len(buckets))]
            stats = [row[b] for b in buckets]
            wers = [100 * s["wer"] for s in stats]  # type: ignore[index]
            bars = axes[0][column].bar(xs, wers, width, label=row["row"])
            axes[0][column].bar_label(bars, fmt="%.1f", fontsize=6)
            p50s = [s["p50_ms"] for s in stats]  # type: ignore[index]
            bars = axes[1][column].bar(xs, p50s, width, label=row["row"])
            axes[1][column].bar_label(bars, fmt="%.0f", fontsize=6)
        axes[0][column].set(title=f"WER at {rate} Hz", ylabel="WER (%), log scale", yscale="log")
        axes[1][column].set(title=f"time per utterance at {rate} Hz", ylabel="p50 (ms)")
        for axis in (axes[0][column], axes[1][column]):
            axis.set_xticks(range(len(buckets)), buckets)
            axis.legend(fontsize=8)
    fig.suptitle("Asterisk English prompts (real speech), Whisper greedy decoding")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["whisper-tiny.en"])
    parser.add_argument("--decodes", nargs="+", default=list(DECODES), choices=list(DECODES))
    parser.add_argument("--rates", nargs="+", type=int, default=[16000, 8000])
    parser.add_argument("--limit", type=int, help="only the first N prompts (a quick look)")
    parser.add_argument("--name", default="wer", help="the results' file name, without suffix")
    parser.add_argument("--join", nargs="+", metavar="NAME", help="join these runs' results")
    args = parser.parse_args()
    if args.join:
        runs = [json.loads((RESULTS / f"{name}.json").read_text()) for name in args.join]
        results = [result for run in runs for result in run["results"]]
        write(args.name, [run["machine"] for run in runs], runs[0]["prompts"], results)
        return
    progress("fetching the prompts (cached after the first run) ...")
    prompts = load_prompts()[: args.limit]
    progress(f"{len(prompts)} prompts")
    load_before = os.getloadavg()
    results = []
    for rate in args.rates:
        rows = [Row(m, d, rate, DECODES[d](m)) for m in args.models for d in args.decodes]
        for row in rows:
            await row.stt.warm_up()
        await transcribe_all(rows, prompts, rate)
        results.extend(report(row) for row in rows)
        for row in rows:
            row.stt.close()
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_before": [round(load, 1) for load in load_before],
        "load_average_after": [round(load, 1) for load in os.getloadavg()],
    }
    write(args.name, machine, len(prompts), results)


def write(name: str, machine: object, prompts: int, results: list[dict[str, object]]) -> None:
    """Print the table; write ``results/<name>.json`` and ``.png``."""
    print_table(results)
    RESULTS.mkdir(exist_ok=True)
    data = {"machine": machine, "prompts": prompts, "results": results}
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    plot(results, RESULTS / f"{name}.png")
    progress(f"wrote {RESULTS / name}.json and .png")


if __name__ == "__main__":
    asyncio.run(main())

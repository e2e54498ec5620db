"""Batched recognition against one utterance at a time: N finished utterances arrive at
once (N sessions ending a turn together) and wait for Whisper.

For N = 1, 8 and 16, the same N utterances (Piper speech of 16 everyday sentences, 0.6 to
4 s, at 22.05 kHz as a caller's audio would come) go to ``FasterWhisperSTT(max_batch=1)``
and to ``FasterWhisperSTT(max_batch=16)``, taking turns within each round so both see the
same load. Per utterance: the time from its arrival to its transcript; per round: the
throughput (utterances transcribed per second), the process's CPU time per utterance (what
sets how many talkers a core carries, and less disturbed by other work on a shared machine
than the wall clock) and the WER of every transcript. Both
recognisers are the same model (tiny.en int8 by default), loaded and warmed up first.

    python benchmarks/batched_stt.py [--model whisper-tiny.en] [--rounds 5]

Writes ``benchmarks/results/batched_stt.json`` and ``batched_stt.png``.
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
from pathlib import Path

from voicegate.audio.frame import AudioFrame
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

RESULTS = Path(__file__).resolve().parent / "results"
SENTENCES = [
    "Hello there.",
    "Turn it off.",
    "Good morning.",
    "Yes, please.",
    "Please turn on the kitchen lights.",
    "Set an alarm for tomorrow morning.",
    "What time does the pharmacy close?",
    "Can you call me a taxi?",
    "I would like to book a table for two.",
    "How is the weather in Paris today?",
    "Remind me to buy milk on the way home.",
    "Play some quiet music in the living room.",
    "Our meeting has been moved to Thursday afternoon.",
    "Send a message to my sister that I will be late.",
    "What is the fastest way to the airport from here?",
    "Please read me the last three messages from my inbox.",
]
COUNTS = (1, 8, 16)
MODES = {"one_by_one": 1, "batched": 16}
"""Each mode and its ``max_batch``."""


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def one_round(
    stt: FasterWhisperSTT, speech: list[tuple[str, AudioFrame]]
) -> tuple[list[float], float, float, list[tuple[str, str]]]:
    """Every utterance sent at once: the latency of each, the wall time, the process's CPU
    time, the transcripts."""

    async def timed(audio: AudioFrame) -> tuple[float, str]:
        began = time.perf_counter()
        heard = await stt.transcribe(audio)
        return time.perf_counter() - began, heard.text

    began, cpu_began = time.perf_counter(), time.process_time()
    results = await asyncio.gather(*(timed(audio) for _, audio in speech))
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    pairs = [(text, heard) for (text, _), (_, heard) in zip(speech, results, strict=True)]
    return [latency for latency, _ in results], wall, cpu, pairs


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="whisper-tiny.en")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    progress("loading Piper and Whisper ...")
    tts = PiperTTS()
    await tts.warm_up()
    speech = [(text, await tts.synthesize(text)) for text in SENTENCES]
    durations = [audio.duration for _, audio in speech]
    progress(f"{len(speech)} utterances of {min(durations):.1f} to {max(durations):.1f} s")
    recognisers = {
        mode: FasterWhisperSTT(args.model, max_batch=batch) for mode, batch in MODES.items()
    }
    for recogniser in recognisers.values():
        await recogniser.warm_up()
    samples: dict[tuple[int, str], dict[str, list[float]]] = {
        (n, mode): {"latency": [], "wall": [], "cpu": []} for n in COUNTS for mode in MODES
    }
    pairs: dict[tuple[int, str], list[tuple[str, str]]] = {key: [] for key in samples}
    for round_number in range(args.rounds):
        for n in COUNTS:
            chosen = [speech[(round_number * n + i) % len(speech)] for i in range(n)]
            order = list(MODES) if round_number % 2 == 0 else list(reversed(MODES))
            for mode in order:
                latencies, wall, cpu, heard = await one_round(recognisers[mode], chosen)
                samples[n, mode]["latency"] += latencies
                samples[n, mode]["wall"].append(wall)
                samples[n, mode]["cpu"].append(cpu)
                pairs[n, mode] += heard
                p50 = statistics.median(latencies) * 1000
                progress(
                    f"round {round_number + 1}/{args.rounds} N={n:>2} {mode:<10} "
                    f"{n / wall:5.1f} utterances/s, {cpu / n * 1000:4.0f} ms CPU each, "
                    f"p50 {p50:.0f} ms"
                )
    rows = []
    for (n, mode), sample in samples.items():
        latency = sample["latency"]
        rows.append(
            {
                "n": n,
                "mode": mode,
                "throughput": n * len(sample["wall"]) / sum(sample["wall"]),
                "cpu_ms": sum(sample["cpu"]) / (n * len(sample["cpu"])) * 1000,
                "p50_ms": statistics.median(latency) * 1000,
                "p95_ms": percentile(latency, 0.95) * 1000,
                "wer": word_error_rate(pairs[n, mode]),
                "utterances": len(latency),
            }
        )
    print(f"\n{'N':>3} {'mode':<11} {'utt/s':>7} {'CPU':>8} {'p50':>8} {'p95':>8} {'WER':>6}")
    for r in rows:
        print(
            f"{r['n']:>3} {r['mode']:<11} {r['throughput']:>7.2f} {r['cpu_ms']:>6.0f}ms "
            f"{r['p50_ms']:>6.0f}ms {r['p95_ms']:>6.0f}ms {r['wer']:>6.1%}"
        )
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    RESULTS.mkdir(exist_ok=True)
    data = {"machine": machine, "model": args.model, "rounds": args.rounds, "rows": rows}
    (RESULTS / "batched_stt.json").write_text(json.dumps(data, indent=2) + "\n")
    plot(rows, args.model)
    for recogniser in recognisers.values():
        recogniser.close()
    tts.close()


def plot(rows: list[dict[str, object]], model: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 4))
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        label = mode.replace("_", " ")
        left.plot([r["n"] for r in mine], [r["throughput"] for r in mine], "o-", label=label)
        middle.plot([r["n"] for r in mine], [r["cpu_ms"] for r in mine], "o-", label=label)
        line = right.plot(
            [r["n"] for r in mine], [r["p50_ms"] for r in mine], "o-", label=f"{label} p50"
        )
        right.plot(
            [r["n"] for r in mine],
            [r["p95_ms"] for r in mine],
            "s--",
            color=line[0].get_color(),
            label=f"{label} p95",
        )
    left.set(xlabel="utterances arriving at once (N)", ylabel="utterances per second")
    left.set(title=f"{model} int8: throughput")
    middle.set(xlabel="utterances arriving at once (N)", ylabel="CPU ms per utterance")
    middle.set(title="CPU time (all threads)")
    right.set(xlabel="utterances arriving at once (N)", ylabel="arrival to transcript (ms)")
    right.set(title="latency per utterance")
    for axes in (left, middle, right):
        axes.set_xticks(COUNTS)
        axes.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "batched_stt.png", dpi=100)


if __name__ == "__main__":
    asyncio.run(main())

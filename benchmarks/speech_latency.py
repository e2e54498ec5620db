"""Speech latency: Whisper's 30 s window against the adaptive window, tiny.en against base,
and Piper's first audio for whole-sentence synthesis against clause streaming, with word
error rate beside each.

STT: Piper speech (resampled to 16 kHz) of about 1, 2, 5 and 10 s, transcribed by tiny.en
with ``FasterWhisperSTT(window_margin=None)`` (faster-whisper's plain 30 s path) and with
the default adaptive window, and by Whisper base (multilingual, int8, adaptive window,
told the language is English); every utterance is run ``--repeats`` times, the median kept.
TTS: time to the first audio chunk for a short and a long sentence, whole text against
``synthesize_stream``. Both models are loaded and warmed up first.

    python benchmarks/speech_latency.py [--repeats 3]

Writes ``benchmarks/results/speech_latency.json`` and ``speech_latency.png``.
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

from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

RESULTS = Path(__file__).resolve().parent / "results"
UTTERANCES = {
    1: ["Hello there.", "Turn it off.", "Good morning."],
    2: ["Please turn on the kitchen lights.", "Set an alarm for tomorrow morning."],
    5: [
        "Please send the report to the whole team before the end of the week, "
        "and copy the director.",
        "Our meeting has been moved to Thursday afternoon because the manager is away.",
    ],
    10: [
        "The train was late again, so I missed the first part of the presentation and had to "
        "catch up later with my colleagues, who kindly shared their notes and the slides with me.",
    ],
}
SHORT = "Sure, I can help with that."
LONG = (
    "When you arrive at the station tomorrow morning, please wait by the main entrance, "
    "because the car will pick you up there and drive you straight to the conference centre."
)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


RECOGNISERS = {
    "default_30s": "tiny.en, 30 s window",
    "adaptive": "tiny.en, adaptive window",
    "base": "base, adaptive window",
}


async def stt_rows(tts: PiperTTS, repeats: int) -> list[dict[str, object]]:
    recognisers = {
        "default_30s": FasterWhisperSTT(window_margin=None),
        "adaptive": FasterWhisperSTT(),
        "base": FasterWhisperSTT("whisper-base", language="en"),
    }
    for recogniser in recognisers.values():
        await recogniser.warm_up()
    rows: list[dict[str, object]] = []
    for target, sentences in UTTERANCES.items():
        speech = [(s, await tts.synthesize(s)) for s in sentences]
        row: dict[str, object] = {
            "target_s": target,
            "audio_s": statistics.mean(a.duration for _, a in speech),
        }
        for name, stt in recognisers.items():
            times, pairs = [], []
            for sentence, audio in speech:
                runs = [await stt.transcribe(audio) for _ in range(repeats)]
                times.append(statistics.median(r.processing_time for r in runs))
                pairs.append((sentence, runs[0].text))
            row[f"{name}_ms"] = 1000 * statistics.mean(times)
            row[f"{name}_wer"] = word_error_rate(pairs)
            row[f"{name}_text"] = [text for _, text in pairs]
        progress(f"stt ~{target:>2} s: {row}")
        rows.append(row)
    return rows


async def first_audio(tts: PiperTTS, text: str, streamed: bool) -> float:
    started = time.perf_counter()
    if streamed:
        async for _ in tts.synthesize_stream(text):
            break
    else:
        await tts.synthesize(text)
    return time.perf_counter() - started


async def tts_rows(tts: PiperTTS, repeats: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, text in (("short", SHORT), ("long", LONG)):
        whole = statistics.median([await first_audio(tts, text, False) for _ in range(repeats)])
        stream = statistics.median([await first_audio(tts, text, True) for _ in range(repeats)])
        row = {"text": name, "words": len(text.split()), "whole_ms": whole * 1000}
        row["clause_stream_ms"] = stream * 1000
        progress(f"tts {name}: {row}")
        rows.append(row)
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    progress("loading Piper and Whisper ...")
    tts = PiperTTS()
    await tts.warm_up()
    stt = await stt_rows(tts, args.repeats)
    speak = await tts_rows(tts, args.repeats)
    header = ("utterance", "tiny 30 s", "WER", "tiny", "WER", "speed-up", "base", "WER")
    print("\n{:>10} {:>10} {:>6} {:>8} {:>6} {:>9} {:>8} {:>6}".format(*header))
    for r in stt:
        print(
            f"{r['audio_s']:>9.1f}s {r['default_30s_ms']:>8.0f}ms {r['default_30s_wer']:>6.1%} "
            f"{r['adaptive_ms']:>6.0f}ms {r['adaptive_wer']:>6.1%} "
            f"{r['default_30s_ms'] / r['adaptive_ms']:>8.1f}x "  # type: ignore[operator]
            f"{r['base_ms']:>6.0f}ms {r['base_wer']:>6.1%}"
        )
    print(f"\n{'TTS first audio':>16} {'whole':>8} {'clauses':>8}")
    for r in speak:
        print(f"{r['text']:>16} {r['whole_ms']:>6.0f}ms {r['clause_stream_ms']:>6.0f}ms")
    RESULTS.mkdir(exist_ok=True)
    machine = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    data = {"machine": machine, "stt": stt, "tts_first_audio": speak}
    (RESULTS / "speech_latency.json").write_text(json.dumps(data, indent=2) + "\n")
    plot(stt, speak)


def plot(stt: list[dict[str, object]], speak: list[dict[str, object]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    x = [r["audio_s"] for r in stt]
    for name, label in RECOGNISERS.items():
        left.plot(x, [r[f"{name}_ms"] for r in stt], "o-", label=label)
    left.set(xlabel="utterance (s)", ylabel="transcription (ms)", title="Whisper int8")
    left.legend()
    labels = [str(r["text"]) for r in speak]
    right.bar(
        [i - 0.2 for i in range(len(speak))],
        [r["whole_ms"] for r in speak],
        0.4,
        label="whole text",
    )
    right.bar(
        [i + 0.2 for i in range(len(speak))],
        [r["clause_stream_ms"] for r in speak],
        0.4,
        label="clause streaming",
    )
    right.set_xticks(range(len(speak)), labels)
    right.set(ylabel="time to first audio (ms)", title="Piper en_US-joe-medium")
    right.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "speech_latency.png", dpi=100)


if __name__ == "__main__":
    asyncio.run(main())

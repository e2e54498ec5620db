"""The turn-taking evaluation's report: one row per (scenario group, mode), the README's
Markdown table, a plot, and the JSON it writes."""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from voicegate.bench.turn_eval import Outcome

_CUT_AT = "cut_rate_"
"""A row's cut-off rate at one pause is ``cut_rate_400ms``."""


def _group(scenario: str) -> str:
    """``hesitation 400 ms`` and ``clause 400 ms`` are rows of ``hesitation`` and ``clause``."""
    return scenario.split(" ")[0]


def _pause_ms(scenario: str) -> int:
    """The pause of ``hesitation 400 ms``: 400."""
    return int(scenario.split(" ")[1])


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    p50, p95 = np.percentile(values, [50, 95])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1)}


def _rate(values: list[bool]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def summarize(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """One row per (scenario group, mode): conversations, failures and its figures."""
    rows = []
    for group, mode in dict.fromkeys((_group(o.scenario), o.mode) for o in outcomes):
        mine = [o for o in outcomes if (_group(o.scenario), o.mode) == (group, mode)]
        done = [o.figures for o in mine if o.error is None]

        def values(name: str, figures: list[dict[str, Any]] = done) -> list[Any]:
            return [f[name] for f in figures if f.get(name) is not None]

        row: dict[str, Any] = {"scenario": group, "mode": mode, "runs": len(mine)}
        row["failed"] = len(mine) - len(done)
        if group == "complete":
            row["end_of_turn_ms"] = _percentiles(values("end_of_turn_ms"))
            row["first_audio_ms"] = _percentiles(values("first_audio_ms"))
            row["extra_turns"] = sum(t - 1 for t in values("turns"))
            row["early_ends"] = sum(values("early"))
            row["wer"] = round(float(np.mean(values("wer"))), 3) if done else None
        elif group in ("hesitation", "clause"):
            row["cut_rate"] = _rate(values("cut"))
            for pause in sorted({_pause_ms(o.scenario) for o in mine}):
                at = [o.figures for o in mine if o.error is None and _pause_ms(o.scenario) == pause]
                row[f"{_CUT_AT}{pause}ms"] = _rate(values("cut", at))
        elif group in ("acknowledgement", "echo"):
            row["false_barge_in_rate"] = _rate(values("barge_in"))
            if group == "acknowledgement":
                row["turn_rate"] = _rate(values("turn"))
            else:
                row["echo_turns"] = sum(values("echo_turns"))
        elif group == "interruption":
            row["stop_rate"] = _rate(values("stopped"))
            row["reaction_ms"] = _percentiles(values("reaction_ms"))
        rows.append(row)
    return rows


def _cell(row: dict[str, Any]) -> str:
    def ms(value: dict[str, float] | None) -> str:
        return "-" if value is None else f"{value['p50']:.0f} / {value['p95']:.0f}"

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.0f}%"

    match row["scenario"]:
        case "complete":
            return (
                f"end of turn {ms(row['end_of_turn_ms'])} ms, first audio "
                f"{ms(row['first_audio_ms'])} ms, WER {row['wer']}, "
                f"extra turns {row['extra_turns']}, ended early {row['early_ends']}"
            )
        case "hesitation" | "clause":
            by_pause = ", ".join(
                f"{key.removeprefix(_CUT_AT).removesuffix('ms')}: {pct(row[key])}"
                for key in row
                if key.startswith(_CUT_AT)
            )
            return f"cut-offs {pct(row['cut_rate'])} ({by_pause} ms)"
        case "acknowledgement":
            return (
                f"false barge-ins {pct(row['false_barge_in_rate'])}, "
                f"became turns {pct(row['turn_rate'])}"
            )
        case "echo":
            return (
                f"false barge-ins {pct(row['false_barge_in_rate'])}, echo turns {row['echo_turns']}"
            )
        case "interruption":
            return f"stopped {pct(row['stop_rate'])}, reaction {ms(row['reaction_ms'])} ms"
    return ""


def format_table(summary: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table (times are p50 / p95)."""
    lines = ["| scenario | mode | runs (failed) | figures (ms: p50 / p95) |", "|---|---|---|---|"]
    for row in summary:
        lines.append(
            f"| {row['scenario']} | {row['mode']} | {row['runs']} ({row['failed']}) "
            f"| {_cell(row)} |"
        )
    return "\n".join(lines)


def plot(summary: Sequence[dict[str, Any]], path: Path) -> None:
    """Rates (cut-offs, false barge-ins, stops) and times (end of turn, reaction) per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rate_keys = {
        "hesitation": "cut_rate",
        "clause": "cut_rate",
        "acknowledgement": "false_barge_in_rate",
        "echo": "false_barge_in_rate",
        "interruption": "stop_rate",
    }
    rates = [
        (f"{r['scenario']}\n{r['mode']}", r[rate_keys[r["scenario"]]])
        for r in summary
        if r["scenario"] in rate_keys and r[rate_keys[r["scenario"]]] is not None
    ]
    times = [
        (f"{r['scenario']}\n{r['mode']}", r[key])
        for r in summary
        for key in ("end_of_turn_ms", "reaction_ms")
        if r.get(key)
    ]
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 7))
    left.barh([label for label, _ in rates], [value * 100 for _, value in rates])
    left.set_xlabel("% of conversations (cut off / false barge-in / stopped)")
    left.invert_yaxis()
    labels = [label for label, _ in times]
    positions = np.arange(len(times))
    right.barh(positions - 0.2, [t["p50"] for _, t in times], 0.4, label="p50")
    right.barh(positions + 0.2, [t["p95"] for _, t in times], 0.4, label="p95")
    right.set_yticks(positions, labels)
    right.set_xlabel("ms (end of turn from the last loud sample; reaction from the first)")
    right.invert_yaxis()
    right.legend()
    figure.suptitle("voicegate turn-taking evaluation")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def document(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The JSON written to ``turn_taking.json``, with the machine and its load at the end."""
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": [round(load, 2) for load in os.getloadavg()],
        },
        "summary": summarize(outcomes),
        "conversations": [asdict(o) for o in outcomes],
    }

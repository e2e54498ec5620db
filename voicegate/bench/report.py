"""The benchmark's output: p50/p95 per stage, per transport and number of clients, as a
table, JSON and a PNG plot."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from voicegate.bench.turns import CLIENT_STAGES, SERVER_STAGES, TurnResult
from voicegate.stt.wer import word_error_rate

# Every stage, named as in the summary: the client's figures, then the server's.
STAGES = tuple(f"client_{s}" for s in CLIENT_STAGES) + tuple(f"server_{s}" for s in SERVER_STAGES)


def _stage_values(turns: Sequence[TurnResult], stage: str) -> list[float]:
    side, name = stage.split("_", 1)
    return [
        figures[name]
        for turn in turns
        if name in (figures := turn.client_ms if side == "client" else turn.server_ms)
    ]


def summarize(turns: Sequence[TurnResult]) -> list[dict[str, Any]]:
    """One row per (transport, clients): turn counts, WER and p50/p95 (ms) of every stage."""
    rows = []
    for transport, clients in dict.fromkeys((t.transport, t.clients) for t in turns):
        group = [t for t in turns if (t.transport, t.clients) == (transport, clients)]
        heard = [(t.sentence, t.transcript) for t in group if t.transcript is not None]
        stages = {}
        for stage in STAGES:
            values = _stage_values(group, stage)
            if values:
                p50, p95 = np.percentile(values, [50, 95])
                stages[stage] = {"p50": round(float(p50), 1), "p95": round(float(p95), 1)}
        rows.append(
            {
                "transport": transport,
                "clients": clients,
                "turns": len(group),
                "failed": sum(t.error is not None for t in group),
                "wer": round(word_error_rate(heard), 3) if heard else None,
                "stages_ms": stages,
            }
        )
    return rows


def format_table(summary: Sequence[dict[str, Any]]) -> str:
    """Per transport: one line per stage, one ``p50 / p95`` column (ms) per number of clients."""
    blocks = []
    for transport in dict.fromkeys(row["transport"] for row in summary):
        rows = [row for row in summary if row["transport"] == transport]
        header = ["stage (ms, p50 / p95)", *(f"N={row['clients']}" for row in rows)]
        lines = [header]
        for stage in STAGES:
            cells = []
            for row in rows:
                figures = row["stages_ms"].get(stage)
                cells.append(f"{figures['p50']:.0f} / {figures['p95']:.0f}" if figures else "-")
            lines.append([stage, *cells])
        lines.append(["turns (failed)", *(f"{r['turns']} ({r['failed']})" for r in rows)])
        lines.append(["WER", *("-" if r["wer"] is None else f"{r['wer']:.3f}" for r in rows)])
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = [
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
            for line in lines
        ]
        blocks.append(f"{transport}\n" + "\n".join(text))
    return "\n\n".join(blocks)


def write_json(path: Path, meta: dict[str, Any], turns: Sequence[TurnResult]) -> dict[str, Any]:
    """Write ``meta``, the summary and every turn to ``path``; return what was written."""
    document = {**meta, "summary": summarize(turns), "turns": [asdict(t) for t in turns]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return document


def plot(path: Path, summary: Sequence[dict[str, Any]], title: str) -> None:
    """Lines of p50 (solid) and p95 (dashed) against the number of clients, one panel per
    transport, one colour per stage."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    transports = list(dict.fromkeys(row["transport"] for row in summary))
    figure, axes = plt.subplots(
        1, len(transports), figsize=(6.5 * len(transports), 5), sharey=True, squeeze=False
    )
    colours = plt.get_cmap("tab10")
    for axis, transport in zip(axes[0], transports, strict=True):
        rows = [row for row in summary if row["transport"] == transport]
        for index, stage in enumerate(STAGES):
            points = [
                (r["clients"], r["stages_ms"][stage]) for r in rows if stage in r["stages_ms"]
            ]
            if not points:
                continue
            clients = [n for n, _ in points]
            colour = colours(index)
            axis.plot(clients, [f["p50"] for _, f in points], "o-", color=colour, label=stage)
            axis.plot(clients, [f["p95"] for _, f in points], "--", color=colour, alpha=0.6)
        axis.set_title(f"{transport} (solid p50, dashed p95)")
        axis.set_xlabel("concurrent clients")
        axis.set_xscale("log", base=2)
        axis.set_xticks(sorted({r["clients"] for r in rows}), labels=None)
        axis.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("ms (client_*: since end of speech; server_*: per stage)")
    # the legend goes where every stage is drawn (a phone's panel has only its first audio)
    fullest = max(axes[0], key=lambda axis: len(axis.get_lines()))
    fullest.legend(fontsize=8, loc="upper left")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)

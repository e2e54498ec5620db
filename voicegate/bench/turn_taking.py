"""The turn-taking evaluation: every scenario in every mode, side by side, in one run.

Against one real ``voicegate serve`` whose responder tells a long story
(:mod:`voicegate.bench.story_server`), over the documented WebSocket protocol:

- end of turn (``fixed`` 300 ms timer against ``semantic``): complete turns (latency,
  WER) and unfinished sentences with a 400-1000 ms pause (cut-off rate);
- interruption strategies (``immediate``, ``confirmed``, ``semantic``, ``disabled``):
  acknowledgements over an answer (false barge-ins, turns) and real interruptions
  (success, reaction time);
- echo cancellation off and on: the answer's echo at -12 dB after 80 ms (false
  barge-ins, turns made of echoed words);
- the voice activity detectors (``webrtc``, ``silero``) on complete turns in pink noise;
- a sweep of one setting of the semantic end of turn (:class:`Sweep`; by default
  ``words_end_ms`` 700, 500, 400 and off): complete turns, and unfinished sentences and
  whole sentences followed by a pause and more of the turn (what each value costs).

:func:`summarize` turns the outcomes into one row per (scenario group, mode);
:func:`format_table` prints them as the README's Markdown table and :func:`plot` draws them.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from voicegate.bench.server import GatewayProcess
from voicegate.bench.turn_eval import (
    Mode,
    Outcome,
    acknowledgement,
    complete_turn,
    echo,
    hesitation,
    interruption,
)
from voicegate.bench.turn_items import (
    ACKNOWLEDGEMENTS,
    COMPLETE,
    INTERRUPTIONS,
    REQUEST,
    clause_pauses,
    real_complete,
    real_hesitations,
    said,
    synthetic_hesitations,
)
from voicegate.bench.voices import VOICES, speak
from voicegate.catalog import DEFAULT_STT_MODEL
from voicegate.engines import create_stt

STORY_SERVER = ("voicegate.bench.story_server",)
PAUSES_MS = (400, 600, 800, 1000)
END_OF_TURN_MODES = (
    Mode("fixed 300 ms", {"end_of_turn": "fixed"}),
    Mode("semantic", {"end_of_turn": "semantic"}),
)
STRATEGY_MODES = tuple(
    Mode(name, {"interruption_speaking": name, "interruption_thinking": name})
    for name in ("immediate", "confirmed", "semantic", "disabled")
)
ECHO_MODES = tuple(
    Mode(f"{strategy}, AEC {'on' if aec else 'off'}", settings, echo_db=-12.0)
    for strategy in ("immediate", "semantic")
    for aec in (False, True)
    for settings in [
        {
            "echo_cancellation": aec,
            "interruption_speaking": strategy,
            "interruption_thinking": strategy,
        }
    ]
)
VAD_MODES = tuple(
    Mode(f"{vad}, pink noise 10 dB", {"vad": vad}, noise="pink", snr_db=10.0)
    for vad in ("webrtc", "silero")
)


@dataclass(frozen=True, slots=True)
class Plan:
    """How much of each scenario a run says: items per voice, echo runs per mode, the voices
    that say the acknowledgements (a rate of a few percent needs many), how many
    conversations run at once where only counts are measured (not latency)."""

    complete_per_voice: int = 3
    real_complete: int = 6
    hesitations_per_voice: int = 2
    real_hesitations: int = 4
    echo_runs: int = 4
    clauses_per_voice: int = 2
    acknowledgement_voices: int = len(VOICES)
    concurrency: int = 2


@dataclass(frozen=True, slots=True)
class Sweep:
    """One setting of the semantic end of turn at several values (``hello``'s name, as
    ``words_end_ms``), and the pauses its hesitations and clauses are tried with."""

    setting: str = "words_end_ms"
    values: tuple[float, ...] = (700, 500, 400, 0)
    pauses_ms: tuple[int, ...] = PAUSES_MS

    @classmethod
    def parse(cls, text: str, pauses_ms: tuple[int, ...] = PAUSES_MS) -> Sweep:
        """``turn_check_ms=100,40``."""
        setting, _, values = text.partition("=")
        if not setting or not values:
            raise ValueError(f"a sweep is SETTING=VALUE,VALUE...: got {text!r}")
        return cls(setting, tuple(float(v) for v in values.split(",")), pauses_ms)

    @property
    def modes(self) -> tuple[Mode, ...]:
        """A semantic mode per value (whole numbers sent as integers)."""
        return tuple(
            Mode(
                f"semantic, {self.setting} {value:g}",
                {"end_of_turn": "semantic", self.setting: number},
            )
            for value in self.values
            for number in [int(value) if value.is_integer() else value]
        )


Job = Callable[[str], Awaitable[Outcome]]
"""One conversation, given the server's WebSocket URL."""
SCENARIOS = (
    "complete",
    "hesitation",
    "acknowledgement",
    "interruption",
    "echo",
    "vad",
    "sweep_complete",
    "sweep_pauses",
)
"""The scenarios a run may choose, in the order they run (``vad``: the VADs in noise;
``sweep_*``: complete turns, and hesitations and clauses, under each value of a
:class:`Sweep`)."""


async def _gather(jobs: Sequence[Job], at_once: int, url: str) -> list[Outcome]:
    gate = asyncio.Semaphore(at_once)
    done = 0

    async def run(job: Job) -> Outcome:
        nonlocal done
        async with gate:
            try:
                outcome = await job(url)
            except Exception as error:  # one failed conversation is a figure, not a crash
                outcome = Outcome("?", "?", "?", "?", error=f"{type(error).__name__}: {error}")
        done += 1
        print(f"\r  {done}/{len(jobs)}", end="", file=sys.stderr, flush=True)
        return outcome

    outcomes = await asyncio.gather(*(run(job) for job in jobs))
    print(file=sys.stderr)
    return list(outcomes)


async def _jobs(
    plan: Plan, scenarios: Sequence[str], sweep: Sweep
) -> dict[str, tuple[list[Job], int]]:
    """Each chosen scenario's conversations, and how many of them run at once; the
    callers' speech is prepared here."""
    complete = [
        item for voice in VOICES for item in said((voice,), COMPLETE[: plan.complete_per_voice])
    ] + real_complete(plan.real_complete)
    hesitations = []
    if {"hesitation", "sweep_pauses"} & set(scenarios):
        stt = create_stt(DEFAULT_STT_MODEL)
        hesitations = await synthetic_hesitations(stt, VOICES, plan.hesitations_per_voice)
        hesitations += await real_hesitations(stt, plan.real_hesitations)
    acknowledgements = said(VOICES[: plan.acknowledgement_voices], ACKNOWLEDGEMENTS)
    interruptions = said(VOICES[:1], INTERRUPTIONS) + said(VOICES[3:4], INTERRUPTIONS)
    clauses = clause_pauses(VOICES, plan.clauses_per_voice) if "sweep_pauses" in scenarios else []
    request = speak(VOICES[0], REQUEST)
    every: dict[str, tuple[list[Job], int]] = {
        "complete": (
            [partial(complete_turn, mode=m, item=i) for m in END_OF_TURN_MODES for i in complete],
            1,
        ),
        "hesitation": (
            [
                partial(hesitation, mode=m, item=i, pause_ms=p)
                for m in END_OF_TURN_MODES
                for p in PAUSES_MS
                for i in hesitations
            ],
            plan.concurrency,
        ),
        "acknowledgement": (
            [
                partial(acknowledgement, mode=m, item=i, request=request)
                for m in STRATEGY_MODES
                for i in acknowledgements
            ],
            plan.concurrency,
        ),
        "interruption": (
            [
                partial(interruption, mode=m, item=i, request=request)
                for m in STRATEGY_MODES
                for i in interruptions
            ],
            1,
        ),
        "echo": (
            [
                partial(echo, mode=m, request=request)
                for m in ECHO_MODES
                for _ in range(plan.echo_runs)
            ],
            plan.concurrency,
        ),
        "vad": ([partial(complete_turn, mode=m, item=i) for m in VAD_MODES for i in complete], 1),
        "sweep_complete": (
            [partial(complete_turn, mode=m, item=i) for m in sweep.modes for i in complete],
            1,
        ),
        "sweep_pauses": (
            [
                partial(hesitation, mode=m, item=i, pause_ms=p, kind=kind)
                for kind, items in (("hesitation", hesitations), ("clause", clauses))
                for m in sweep.modes
                for p in sweep.pauses_ms
                for i in items
            ],
            plan.concurrency,
        ),
    }
    return {name: every[name] for name in SCENARIOS if name in scenarios}


async def evaluate(
    plan: Plan, log_path: Path, scenarios: Sequence[str] = SCENARIOS, sweep: Sweep = Sweep()
) -> list[Outcome]:
    """Prepare the callers' speech, start the story server and run ``scenarios`` (some of
    :data:`SCENARIOS`), each in every mode (the ``sweep_*`` ones in ``sweep``'s)."""
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown scenarios {unknown}: choose from {', '.join(SCENARIOS)}")
    print("preparing speech...", file=sys.stderr)
    chosen = await _jobs(plan, scenarios, sweep)
    outcomes: list[Outcome] = []
    debug = ("--log-level", "debug")  # the log holds what was heard over answers
    async with GatewayProcess(log_path, program=STORY_SERVER, args=debug) as address:
        for name, (jobs, at_once) in chosen.items():
            print(f"{name}: {len(jobs)} conversations", file=sys.stderr)
            outcomes += await _gather(jobs, at_once, address.websocket_url)
    return outcomes


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
            row["wer"] = round(float(np.mean(values("wer"))), 3) if done else None
        elif group in ("hesitation", "clause"):
            row["cut_rate"] = _rate(values("cut"))
            for pause in sorted({_pause_ms(o.scenario) for o in mine}):
                at = [o.figures for o in mine if o.error is None and _pause_ms(o.scenario) == pause]
                row[f"cut_rate_{pause}ms"] = _rate(values("cut", at))
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
                f"extra turns {row['extra_turns']}"
            )
        case "hesitation" | "clause":
            pauses = [k for k in row if k.startswith("cut_rate_")]
            by_pause = ", ".join(f"{k[9:-2]}: {pct(row[k])}" for k in pauses)
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

"""The turn-taking evaluation: every scenario in every mode, side by side, in one run.

Against one real ``voicegate serve`` whose responder tells a long story
(:mod:`voicegate.bench.story_server`), over the documented WebSocket protocol:

- end of turn (``fixed`` 300 ms timer against ``semantic``): complete turns (latency,
  WER) and unfinished sentences with a 400-1000 ms pause (cut-off rate);
- interruption strategies (``immediate``, ``confirmed``, ``semantic``, ``disabled``):
  acknowledgements over an answer (false barge-ins, turns) and real interruptions
  (success, reaction time); short interruptions said as the answer starts, with the
  server's echo canceller on and off;
- echo cancellation off and on: the answer's echo at -12 dB after 80 ms (false
  barge-ins, turns made of echoed words);
- the voice activity detectors (``webrtc``, ``silero``) on complete turns in pink noise;
- a sweep of one setting of the semantic end of turn (:class:`Sweep`; by default
  ``words_end_ms`` 700, 500, 400 and off): complete turns, and unfinished sentences and
  whole sentences followed by a pause and more of the turn (what each value costs).

:mod:`voicegate.bench.turn_report` turns the outcomes into the report.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

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
    SHORT_INTERRUPTIONS,
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
START_S = 0.1
"""How far into the answer the ``interruption_start`` items are said."""
START_MODES = tuple(
    Mode(f"semantic, {START_S:g} s in, AEC {'on' if aec else 'off'}", {"echo_cancellation": aec})
    for aec in (True, False)
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

    complete_per_voice: int = 5
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
    values: tuple[float, ...] = (700.0, 500.0, 400.0, 0.0)
    pauses_ms: tuple[int, ...] = PAUSES_MS

    @classmethod
    def parse(cls, text: str, pauses_ms: tuple[int, ...] = PAUSES_MS) -> Sweep:
        """``turn_check_ms=100,40``."""
        setting, _, values = text.partition("=")
        if not setting or not values:
            raise ValueError(f"a sweep is SETTING=VALUE,VALUE...: got {text!r}")
        return cls(setting, tuple(float(v) for v in values.split(",")), pauses_ms)

    @property
    def text(self) -> str:
        """As :meth:`parse` reads it: ``words_end_ms=700,500,400,0``."""
        return f"{self.setting}={','.join(f'{value:g}' for value in self.values)}"

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
    "interruption_start",
    "echo",
    "vad",
    "sweep_complete",
    "sweep_pauses",
)
"""The scenarios a run may choose, in the order they run (``interruption_start``: short
ones said :data:`START_S` into the answer, with the server's echo canceller on and off;
``vad``: the VADs in noise;
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
    short_interruptions = said(VOICES[:1], SHORT_INTERRUPTIONS) + said(
        VOICES[3:4], SHORT_INTERRUPTIONS
    )
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
        "interruption_start": (
            [
                partial(interruption, mode=m, item=i, request=request, into_s=START_S)
                for m in START_MODES
                for i in short_interruptions
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

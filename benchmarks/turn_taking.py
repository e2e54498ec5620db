"""Turn-taking evaluation: a real ``voicegate serve`` (a storyteller responder) and callers
speaking Piper, espeak-ng and real recorded speech over the WebSocket protocol; the fixed
300 ms timer against the semantic end of turn, each interruption strategy, echo
cancellation off and on, the VADs in noise, and a sweep of one setting of the semantic end
of turn, side by side in one run.

    python benchmarks/turn_taking.py [--quick] [--scenarios hesitation,acknowledgement]
                                     [--sweep turn_check_ms=100,40] [--pauses 200,400]
                                     [--out benchmarks/results]

Writes ``turn_taking.json`` and ``turn_taking.png`` and prints the README's table.
``--quick`` says one item per voice (a few minutes instead of about 35 minutes).
``--scenarios`` runs only those (of complete, hesitation, acknowledgement, interruption,
interruption_start, echo, vad, sweep_complete, sweep_pauses), written as
``turn_taking_<scenarios>.json`` and ``.png``. ``--sweep`` names the setting the ``sweep_*``
scenarios try and its values (default ``words_end_ms=700,500,400,0``), ``--pauses`` the pauses
of their hesitations and clauses in ms (default 400,600,800,1000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

from voicegate.bench.turn_report import document, format_table, plot
from voicegate.bench.turn_taking import PAUSES_MS, SCENARIOS, Plan, Sweep, evaluate

QUICK = Plan(
    complete_per_voice=1,
    real_complete=2,
    hesitations_per_voice=1,
    real_hesitations=1,
    echo_runs=1,
    clauses_per_voice=1,
    acknowledgement_voices=1,
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one item per voice")
    parser.add_argument(
        "--scenarios",
        type=lambda text: tuple(text.split(",")),
        default=SCENARIOS,
        help=f"comma-separated, of {','.join(SCENARIOS)} (default: all)",
    )
    default = Sweep()
    parser.add_argument(
        "--sweep",
        type=Sweep.parse,
        default=default,
        help=f"SETTING=V1,V2,... (default {default.text})",
    )
    parser.add_argument(
        "--pauses",
        type=lambda text: tuple(int(ms) for ms in text.split(",")),
        default=PAUSES_MS,
        help=f"the sweep's pauses in ms (default {','.join(map(str, PAUSES_MS))})",
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    sweep = replace(args.sweep, pauses_ms=args.pauses)
    args.out.mkdir(parents=True, exist_ok=True)
    plan = QUICK if args.quick else Plan()
    stem = "turn_taking"
    if set(args.scenarios) != set(SCENARIOS):
        stem += "_" + "_".join(args.scenarios)
    log_path = args.out / f"{stem}_server.log"
    outcomes = asyncio.run(evaluate(plan, log_path, args.scenarios, sweep))
    result = document(outcomes)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result["summary"], args.out / f"{stem}.png")
    print(format_table(result["summary"]))
    print(f"machine: {result['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

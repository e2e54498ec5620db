"""Turn-taking evaluation: a real ``voicegate serve`` (a storyteller responder) and callers
speaking Piper, espeak-ng and real recorded speech over the WebSocket protocol; the fixed
300 ms timer against the semantic end of turn, each interruption strategy, echo
cancellation off and on, the VADs in noise, side by side in one run.

    python benchmarks/turn_taking.py [--quick] [--out benchmarks/results]

Writes ``turn_taking.json`` and ``turn_taking.png`` and prints the README's table.
``--quick`` says one item per voice (a few minutes instead of about half an hour).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from voicegate.bench.turn_taking import Plan, document, evaluate, format_table, plot

QUICK = Plan(
    complete_per_voice=1,
    real_complete=2,
    hesitations_per_voice=1,
    real_hesitations=1,
    echo_runs=1,
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one item per voice")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    plan = QUICK if args.quick else Plan()
    outcomes = asyncio.run(evaluate(plan, args.out / "turn_taking_server.log"))
    result = document(outcomes)
    (args.out / "turn_taking.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result["summary"], args.out / "turn_taking.png")
    print(format_table(result["summary"]))
    print(f"machine: {result['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

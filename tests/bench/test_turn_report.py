"""The turn-taking evaluation's summary, table and plot on plain outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicegate.bench.turn_eval import Outcome
from voicegate.bench.turn_report import format_table, plot, summarize
from voicegate.bench.turn_taking import Sweep

OUTCOMES = [
    Outcome("complete", "semantic", "piper", "a", {"end_of_turn_ms": 200.0,
            "first_audio_ms": 300.0, "turns": 1, "early": False, "wer": 0.0}),
    Outcome("complete", "semantic", "piper", "b", {"end_of_turn_ms": 400.0,
            "first_audio_ms": 500.0, "turns": 2, "early": True, "wer": 0.5}),
    Outcome("complete", "semantic", "real", "c", error="no final transcript"),
    Outcome("hesitation 400 ms", "fixed", "piper", "d", {"cut": True, "turns": 2}),
    Outcome("hesitation 1000 ms", "fixed", "piper", "d", {"cut": False, "turns": 1}),
    Outcome("clause 600 ms", "fixed", "piper", "e", {"cut": True, "turns": 2}),
    Outcome("acknowledgement", "semantic", "piper", "uh-huh", {"barge_in": False, "turn": False}),
    Outcome("echo", "AEC on", "piper", "", {"barge_in": True, "echo_turns": 2}),
    Outcome("interruption", "immediate", "piper", "stop", {"stopped": True, "reaction_ms": 300.0}),
    Outcome("interruption", "immediate", "piper", "stop", {"stopped": False, "reaction_ms": None}),
]  # fmt: skip


def test_each_scenario_group_gets_its_figures_per_mode(tmp_path: Path) -> None:
    rows = {(r["scenario"], r["mode"]): r for r in summarize(OUTCOMES)}

    complete = rows[("complete", "semantic")]
    assert (complete["runs"], complete["failed"], complete["extra_turns"]) == (3, 1, 1)
    assert complete["early_ends"] == 1
    assert complete["end_of_turn_ms"] == {"p50": 300.0, "p95": 390.0}
    assert complete["wer"] == 0.25
    hesitation = rows[("hesitation", "fixed")]
    assert (hesitation["cut_rate"], hesitation["cut_rate_400ms"]) == (0.5, 1.0)
    assert hesitation["cut_rate_1000ms"] == 0.0
    assert "cut_rate_600ms" not in hesitation  # only the pauses this mode was tried with
    clause = rows[("clause", "fixed")]  # its own row, beside the hesitations of the same mode
    assert (clause["runs"], clause["cut_rate"], clause["cut_rate_600ms"]) == (1, 1.0, 1.0)
    assert rows[("acknowledgement", "semantic")]["false_barge_in_rate"] == 0.0
    assert rows[("echo", "AEC on")]["echo_turns"] == 2
    interruption = rows[("interruption", "immediate")]
    assert interruption["stop_rate"] == 0.5
    assert interruption["reaction_ms"] == {"p50": 300.0, "p95": 300.0}

    table = format_table(summarize(OUTCOMES)).splitlines()
    assert len(table) == 2 + len(rows)
    assert "| hesitation | fixed | 2 (0) | cut-offs 50% (400: 100%, 1000: 0% ms) |" in table[3]
    assert "| clause | fixed | 1 (0) | cut-offs 100% (600: 100% ms) |" in table[4]
    assert table[2].endswith("extra turns 1, ended early 1 |")
    plot(summarize(OUTCOMES), tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes().startswith(b"\x89PNG")


def test_a_sweep_is_a_semantic_mode_per_value_of_its_setting() -> None:
    sweep = Sweep.parse("turn_check_ms=100,40", pauses_ms=(200, 400))

    assert [m.label for m in sweep.modes] == [
        "semantic, turn_check_ms 100",
        "semantic, turn_check_ms 40",
    ]
    assert sweep.modes[1].settings == {"end_of_turn": "semantic", "turn_check_ms": 40}
    assert Sweep.parse("turn_sure_threshold=0.7").modes[0].settings["turn_sure_threshold"] == 0.7
    assert sweep.pauses_ms == (200, 400)
    assert Sweep().modes[0].settings == {"end_of_turn": "semantic", "words_end_ms": 700}
    assert Sweep().text == "words_end_ms=700,500,400,0"
    with pytest.raises(ValueError, match="SETTING=VALUE"):
        Sweep.parse("turn_check_ms")

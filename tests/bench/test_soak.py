"""``benchmarks/soak.py`` run small (2 callers for 20 s on the real models and server): its
report is filled in and adds up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.models

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)  # models, a server and 20 s of calls on a loaded machine
def test_a_short_soak_reports_every_turn_stored_and_the_memory(tmp_path: Path) -> None:
    command = [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--callers", "2"]
    command += ["--minutes", "0.34", "--warm-up", "6", "--every", "4", "--extra", "1"]
    command += ["--out", str(tmp_path)]
    environ = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=540)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]  # 0: no turn lost
    report = json.loads((tmp_path / "soak.json").read_text())
    assert (tmp_path / "soak.png").stat().st_size > 0

    turns = report["turns"]
    assert turns["spoken"] >= 2  # each caller spoke at least once
    assert turns["received"] <= turns["spoken"]
    assert turns["answered"] <= turns["spoken"]  # audio after a turn (its answer, or a late one)
    assert turns["stored"] == turns["events"] >= turns["received"]
    assert turns["transcripts_in_store"] >= turns["spoken"]
    assert report["sessions"] >= 2

    rss = report["rss_mib"]
    assert rss["start"] > 0
    assert rss["after_warm_up"] > 0
    assert rss["end"] > 0
    assert [m for _, m in rss["samples"]][-1] == rss["end"]
    growth = 100 * (rss["end"] - rss["after_warm_up"]) / rss["after_warm_up"]
    # the report computes it before rounding the readings to 0.1 MiB
    assert rss["growth_after_warm_up_pct"] == pytest.approx(growth, abs=0.05)

    first_audio = report["first_audio_s"]
    if first_audio["turns"]:
        assert 0 < first_audio["p50"] <= first_audio["p95"] <= first_audio["max"]
    load = report["machine"]["load_average"]
    assert 0 <= load["min"] <= load["mean"] <= load["max"]
    probes = report["over_capacity_probes"]
    assert [p["when"] for p in probes] == ["after warm-up", "near the end"]
    assert all(code == 1013 for p in probes for code in p["codes"])
    assert report["server_log"] == {"tracebacks": 0, "never_retrieved": 0}

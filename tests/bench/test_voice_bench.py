"""``voicegate bench`` end to end: ``voicegate serve``; WebSocket, WebRTC, browser and phone
callers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicegate.cli import main

pytestmark = pytest.mark.models


def test_one_turn_per_transport_gives_sane_figures_a_table_and_a_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["bench", "--clients", "1", "--turns", "1", "--out", str(tmp_path)])

    assert code == 0
    document = json.loads((tmp_path / "voice_latency.json").read_text())
    assert [(t["transport"], t["error"]) for t in document["turns"]] == [
        ("websocket", None),
        ("webrtc", None),
        ("browser", None),
        ("twilio", None),
        ("sip", None),
    ]
    protocol_turns = [t for t in document["turns"] if t["transport"] in ("websocket", "webrtc")]
    for turn in document["turns"][3:]:  # a phone hears the answer, no transcript
        assert set(turn["client_ms"]) == {"first_audio"}
        assert turn["client_ms"]["first_audio"] > 0
        assert (turn["server_ms"], turn["wer"]) == ({}, None)
    for turn in protocol_turns:
        client, server = turn["client_ms"], turn["server_ms"]
        assert set(client) == {"transcript", "room_event", "first_audio"}
        assert set(server) == {"endpoint", "stt", "room", "tts", "total"}
        assert all(value >= 0 for value in [*client.values(), *server.values()])
        assert client["transcript"] > 0
        assert server["total"] > 0
        assert client["transcript"] <= client["room_event"] <= client["first_audio"]
        assert server["total"] >= server["stt"]
        assert turn["wer"] <= 0.2
    browser = document["turns"][2]  # the page's figures: no room event
    assert set(browser["client_ms"]) == {"transcript", "first_audio"}
    assert 0 < browser["client_ms"]["transcript"] < browser["client_ms"]["first_audio"]
    assert browser["wer"] <= 0.2
    assert set(document["machine"]["load_average"]) == {"start", "end"}
    for row in document["summary"]:
        assert row["clients"] == 1
        assert row["failed"] == 0
        assert row["transport"] in ("twilio", "sip") or row["wer"] <= 0.2
        assert row["stages_ms"]["client_first_audio"]["p50"] > 0
    assert (tmp_path / "voice_latency.png").read_bytes().startswith(b"\x89PNG")
    table = capsys.readouterr().out
    assert "websocket" in table
    assert "webrtc" in table
    assert "browser" in table
    assert "sip" in table
    assert "client_first_audio" in table

"""``voicegate mic`` on a machine without a sound card, and its terminal renderer.

The command is run for real (in-process through ``voicegate.cli.main`` and as a
subprocess); the renderer is a unit test that feeds it notices and reads the text.
"""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from voicegate.cli import main
from voicegate.cli.mic import TerminalRenderer
from voicegate.voice.local import InputLevel, SessionClosed, SessionOpened
from voicegate.voice.local_devices import import_sounddevice
from voicegate.voice.notices import (
    AnswerStarted,
    BargeIn,
    FinalTranscript,
    Floor,
    PartialTranscript,
    SpeechIgnored,
    TurnMetrics,
    TurnState,
)
from voicegate.voice.turns import TurnTimings

no_sound_card = pytest.mark.skipif(
    len(import_sounddevice().query_devices()) > 0, reason="this machine has a sound card"
)


@no_sound_card
@pytest.mark.parametrize("argv", [["mic"], ["mic", "--room", "kitchen", "--input-device", "3"]])
def test_mic_without_a_sound_card_says_so_on_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("voicegate mic: no audio device found")


@no_sound_card
def test_list_devices_without_a_sound_card_fails_plainly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["mic", "--list-devices"]) == 1
    assert capsys.readouterr().err == (
        "voicegate mic: no audio devices found (PortAudio sees no sound card)\n"
    )


@no_sound_card
def test_mic_as_a_subprocess_exits_non_zero_with_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voicegate", "mic"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "PortAudio sees no sound card" in done.stderr


def test_the_renderer_prints_the_meter_transcripts_answers_and_latency() -> None:
    out = io.StringIO()
    renderer = TerminalRenderer(out, meter_interval=0.0, width=10)
    timings = TurnTimings(speech_ended=1.0, endpointed=1.3, transcribed=1.8)
    timings.answered, timings.first_audio = 1.81, 2.1
    for notice in (
        SessionOpened("s1", "kitchen"),
        PartialTranscript("turn on"),
        InputLevel(-30.0),
        FinalTranscript("Turn on the lights.", "e1"),
        TurnState(Floor.SPEAKING),
        AnswerStarted("Turn on the lights.", "e2"),
        InputLevel(-30.0),
        TurnMetrics(timings),
        SpeechIgnored("acknowledgement", "Uh-huh."),
        BargeIn("speaking", "semantic", 320.0, "wait"),
        SessionClosed(1000, "session ended"),
        SessionClosed(4404, "room_not_found"),
    ):
        renderer.show(notice)
    lines = [line.split("\x1b[K")[-1] for line in out.getvalue().split("\r") if line]
    assert lines == [
        "listening in room kitchen: speak, Ctrl-C to stop\n",
        "[#####     ]  -30.0 dBFS  listening  turn on",
        "you:    Turn on the lights.\n",
        "answer: Turn on the lights.\n",
        "[#####     ]  -30.0 dBFS  speaking   ",
        "turn:   endpoint 300 ms, stt 500 ms, room 10 ms, tts 290 ms, total 1100 ms\n",
        "        (acknowledgement, not a turn: Uh-huh.)\n",
        "        (interrupted while speaking: semantic)\n",
        "session ended: room_not_found (4404)\n",
    ]

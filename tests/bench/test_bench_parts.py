"""The benchmark's parts on plain data: turn measurement, the summary, URLs and bad options."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tqdm import tqdm

from voicegate.audio.frame import AudioFrame
from voicegate.bench import runner
from voicegate.bench.browser_client import FAKE_MIC_RATE, LEAD_S, script_audio
from voicegate.bench.callers import WebSocketCaller
from voicegate.bench.phone_callers import QUIET_S, SIPCaller, TwilioCaller
from voicegate.bench.report import format_table, summarize
from voicegate.bench.runner import BenchConfig, await_answer
from voicegate.bench.server import GatewayAddress
from voicegate.bench.sip_client import HeardPacket
from voicegate.bench.speech import SpeechClip, clip_from_audio
from voicegate.bench.turns import TurnResult, measure_answer, measure_turn, turn_finished
from voicegate.bench.twilio_client import TwilioMediaStreamClient
from voicegate.cli import main

TURN = [
    (10.0, {"type": "speech_start", "at": 0.3}),
    (11.5, {"type": "final_transcript", "text": "Turn on the lights.", "event_id": "e1"}),
    (11.6, {"type": "room_event", "event": {"id": "e0"}}),
    (11.7, {"type": "room_event", "event": {"id": "e1"}}),
    (11.8, {"type": "tts_start", "text": "Turn on the lights.", "event_id": "e2"}),
    (11.9, {"type": "turn_metrics", "metrics": {"stages_ms": {"stt": 400.0, "total": 900.0}}}),
    (13.0, {"type": "tts_end", "event_id": "e2", "interrupted": False}),
]


def test_a_turn_is_measured_from_the_end_of_speech() -> None:
    result = measure_turn(TurnResult("websocket", 1, 0, 0, "Turn on the light."), TURN, 11.0, 12.0)

    assert result.client_ms == {"transcript": 500.0, "room_event": 700.0, "first_audio": 1000.0}
    assert result.server_ms == {"stt": 400.0, "total": 900.0}
    assert result.wer == 0.25
    assert result.error is None


def test_a_turn_without_answer_audio_or_transcript_is_an_error() -> None:
    silent = measure_turn(TurnResult("webrtc", 1, 0, 0, "Turn on the lights."), TURN, 11.0, None)
    deaf = measure_turn(TurnResult("webrtc", 1, 0, 0, "Hello."), TURN[:1], 11.0, None)

    assert silent.error == "no answer audio"
    assert silent.wer == 0.0
    assert deaf.error == "no final transcript"
    assert deaf.client_ms == {}


def test_a_turn_ends_with_its_answer_or_with_a_blocked_transcript() -> None:
    blocked = (1.0, {"type": "final_transcript", "text": "no", "event_id": None})

    assert turn_finished(TURN)
    assert not turn_finished(TURN[:-1])
    assert turn_finished([blocked])


def test_the_summary_has_percentiles_per_transport_and_client_count() -> None:
    turns = [
        TurnResult("websocket", 2, c, 0, "Hello there.", "hello there", 0.0, {"first_audio": ms})
        for c, ms in enumerate([100.0, 200.0])
    ] + [TurnResult("webrtc", 1, 0, 0, "Hello there.", error="boom")]

    summary = summarize(turns)

    assert summary[0]["stages_ms"] == {"client_first_audio": {"p50": 150.0, "p95": 195.0}}
    assert (summary[0]["wer"], summary[0]["failed"]) == (0.0, 0)
    assert (summary[1]["turns"], summary[1]["failed"], summary[1]["wer"]) == (1, 1, None)
    assert "150 / 195" in format_table(summary)


def test_a_clip_stops_at_its_last_loud_frame() -> None:
    samples = np.zeros(16000, np.int16)
    samples[3200:8000] = 8000  # speech from 0.2 s to 0.5 s, then a quiet tail
    samples[8000:12000] = 20

    clip = clip_from_audio("hi", Path("hi.wav"), AudioFrame(samples, 16000))

    assert clip.duration == pytest.approx(0.5)
    with pytest.raises(ValueError, match="holds no speech"):
        clip_from_audio("hi", Path("hi.wav"), AudioFrame(samples[:3200], 16000))


def test_the_printed_url_gives_the_endpoints() -> None:
    address = GatewayAddress.from_url("http://127.0.0.1:8765/?token=a.b\n")

    assert address.websocket_url == "ws://127.0.0.1:8765/ws?token=a.b"
    assert address.offer_url == "http://127.0.0.1:8765/webrtc/offer?token=a.b"
    assert GatewayAddress.from_url("http://localhost:9/").websocket_url == "ws://localhost:9/ws"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--clients", "0"], "client counts must be positive"),
        (["--turns", "0"], "turns must be at least 1"),
        (["--transports", "pigeon"], "transports must be among websocket, webrtc"),
        (["--url", "ftp://example"], "not a gateway URL"),
        (["--browsers", "0"], "browsers must be at least 1"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", *options]) == 2
    assert message in capsys.readouterr().err


def test_an_out_that_is_a_file_exits_2_before_any_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = tmp_path / "results"
    taken.write_text("not a folder")
    assert main(["bench", "--out", str(taken)]) == 2
    assert f"the results go in a folder, and {taken} is a file" in capsys.readouterr().err


def test_the_browser_row_runs_up_to_browsers_callers_and_skips_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = BenchConfig(clients=(1, 2, 4), transports=("websocket", "browser"), browsers=2)
    assert runner.levels(config) == (
        [("websocket", 1), ("websocket", 2), ("websocket", 4), ("browser", 1), ("browser", 2)],
        [("browser", 4)],
    )
    # by default, one browser caller per two CPUs, and one on a machine with fewer
    for cpus, browsers in ((1, 1), (2, 1), (3, 1), (8, 4), (16, 8)):
        monkeypatch.setattr(runner.os, "cpu_count", lambda cpus=cpus: cpus)
        assert BenchConfig().browsers == browsers


def test_clients_that_are_not_numbers_are_refused_by_the_parser() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--clients", "one,two"])
    assert exited.value.code == 2


def test_a_phone_turn_is_its_first_answer_audio() -> None:
    heard = measure_answer(TurnResult("sip", 1, 0, 0, "Hello."), 10.0, 10.75)
    deaf = measure_answer(TurnResult("sip", 1, 0, 0, "Hello."), 10.0, None)
    assert (heard.client_ms, heard.error, heard.transcript) == ({"first_audio": 750.0}, None, None)
    assert deaf.error == "no answer audio"


def test_a_sip_turn_starts_at_the_first_sound_and_ends_after_a_silent_stretch() -> None:
    caller = SIPCaller(GatewayAddress("127.0.0.1", 8765))
    loud = [HeardPacket(10.4 + n * 0.02, -20.0) for n in range(50)]  # 10.4 s to 11.38 s
    quiet = [HeardPacket(11.4 + n * 0.02, -120.0) for n in range(round(QUIET_S / 0.02) + 2)]
    faint = HeardPacket(10.38, -70.0)  # the answer's first packet, quiet but not silence
    caller._phone.heard = [HeardPacket(9.0, -20.0), HeardPacket(9.9, -120.0), faint, *loud]
    assert not caller.turn_finished(9.5)  # the answer still plays
    caller._phone.heard += quiet
    assert caller.turn_finished(9.5)
    # it ended when its last loud packet had played, QUIET_S before the phone could tell
    assert caller.answer_ended(9.5) == pytest.approx(11.38 + 0.02)
    result = TurnResult("sip", 1, 0, 0, "Hello.")
    caller.measure(result, 9.5, 10.0)
    assert result.client_ms == {"first_audio": 380.0}  # not the loud packet before the turn


def test_a_twilio_turn_starts_at_its_first_media_and_ends_with_the_mark_after_it() -> None:
    caller = TwilioCaller(GatewayAddress("127.0.0.1", 8765))
    stream = caller._client = TwilioMediaStreamClient("ws://127.0.0.1:8765/twilio/stream")
    stream.record.media = [(5.0, b""), (10.3, b""), (10.32, b"")]
    stream.record.marks_echoed = [(6.0, "earlier-answer")]
    assert caller.answered(9.5)
    assert not caller.answered(10.4)
    assert not caller.turn_finished(9.5)
    assert caller.answer_ended(9.5) is None
    stream.record.marks_echoed.append((12.0, "e1"))
    assert caller.turn_finished(9.5)
    assert caller.answer_ended(9.5) == 12.0  # the mark's echo: its audio had played
    result = TurnResult("twilio", 1, 0, 0, "Hello.")
    caller.measure(result, 9.5, 10.0)
    assert result.client_ms == {"first_audio": 300.0}


class _ScriptedCaller:
    """A caller whose answer starts and ends when the test says."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.ended: float | None = None

    def answered(self, since: float) -> bool:
        return self.started is not None and self.started >= since

    def turn_finished(self, since: float) -> bool:
        return self.ended is not None and self.ended >= since


async def test_a_turn_waits_for_its_answer_to_start_then_to_end() -> None:
    caller = _ScriptedCaller()
    assert await await_answer(caller, 5.0, 0.05) == "no answer within 0.05 s"  # type: ignore[arg-type]
    caller.started = 4.0  # an earlier turn's answer: not this one's
    caller.ended = 4.5
    assert await await_answer(caller, 5.0, 0.05) == "no answer within 0.05 s"  # type: ignore[arg-type]
    caller.started = 6.0  # this turn's answer, still playing
    assert await await_answer(caller, 5.0, 0.05) == (  # type: ignore[arg-type]
        "the answer did not end within 0.05 s of its start"
    )
    caller.ended = 9.0
    assert await await_answer(caller, 5.0, 0.05) is None  # type: ignore[arg-type]


def test_a_websocket_answer_ends_with_its_tts_end() -> None:
    caller = WebSocketCaller(GatewayAddress("127.0.0.1", 8765))
    messages = caller._client.recording.messages
    messages += [(8.0, {"type": "tts_end"}), (10.2, {"type": "tts_start"})]
    assert caller.answer_ended(9.5) is None  # an earlier answer's end is not this turn's
    messages.append((11.5, {"type": "tts_end"}))
    assert caller.answer_ended(9.5) == 11.5


NOW = 100.0
"""The bench runner's clock in the pause test: frozen, so no wall-clock time enters it."""


class _GapCaller:
    """A caller answered at once, whose answers ended ``ended_ago`` seconds before it knew."""

    def __init__(self, ended_ago: float) -> None:
        self.ended_ago = ended_ago
        self.spoke: list[float] = []
        self.ends: list[float] = []

    async def __aenter__(self) -> _GapCaller:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def speak(self, clip: object) -> float:
        self.spoke.append(NOW)
        return NOW

    def answered(self, since: float) -> bool:
        return True

    def turn_finished(self, since: float) -> bool:
        return True

    def measure(self, result: TurnResult, since: float, speech_end: float) -> None:
        self.ends.append(NOW - self.ended_ago)

    def answer_ended(self, since: float) -> float | None:
        return self.ends[-1]


async def test_every_caller_speaks_again_a_pause_after_its_answer_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    late = _GapCaller(ended_ago=0.3)  # knew of the end 0.3 s late (as a SIP phone does)
    monkeypatch.setattr(runner, "make_caller", lambda transport, address, clips: late)
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(runner.asyncio, "sleep", sleep)
    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=lambda: NOW))
    config = BenchConfig(clients=(1,), turns=2, transports=("sip",), pause=1.3)
    clip = clip_from_audio(
        "Hello.", Path("hello.wav"), AudioFrame(np.full(800, 8000, np.int16), 16000)
    )
    with tqdm(disable=True) as progress:
        address = GatewayAddress("127.0.0.1", 1)
        results = await runner._call(config, address, "sip", 1, 0, [clip], progress)
    assert [r.error for r in results] == [None, None]
    gaps = slept[1:]  # after the stagger (0 s for the first caller): one gap per turn
    assert gaps == [pytest.approx(1.0)] * 2  # the pause from the end, less the 0.3 s


def test_the_browser_script_lays_the_sentences_out_after_the_lead_each_with_its_gap() -> None:
    clips = [
        SpeechClip(text, Path(f"{text}.wav"), (bytes(640),) * frames)
        for text, frames in (("one", 50), ("two", 25))
    ]
    audio, ends = script_audio(clips, gap=2.0)
    assert audio.sample_rate == FAKE_MIC_RATE
    assert ends == pytest.approx([LEAD_S + 1.0, LEAD_S + 1.0 + 2.0 + 0.5])
    assert audio.duration == pytest.approx(ends[-1] + 2.0)

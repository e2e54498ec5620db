"""``voicegate mic``: talk to an in-process gateway from this machine's microphone and speaker."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any, TextIO

from voicegate.catalog import DEFAULT_STT_MODEL, DEFAULT_TTS_VOICE
from voicegate.errors import ModelLoadError, ModelNotAvailableError
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider
from voicegate.voice.local import (
    InputLevel,
    LocalNotice,
    LocalVoiceBackend,
    SessionClosed,
    SessionOpened,
)
from voicegate.voice.local_devices import AudioDeviceError, list_devices
from voicegate.voice.notices import (
    AnswerStarted,
    BargeIn,
    FinalTranscript,
    PartialTranscript,
    SessionError,
    SpeechIgnored,
    TurnMetrics,
    TurnState,
)
from voicegate.voice.protocol import CloseCode

_QUIET_ENDINGS = (CloseCode.NORMAL, CloseCode.GOING_AWAY)
"""Session endings the terminal does not report: a normal end, or the gateway closing (Ctrl-C)."""


def add_parser(subparsers: Any) -> None:
    """Register ``mic``."""
    parser = subparsers.add_parser(
        "mic", help="talk to the gateway from the local microphone and hear it on the speaker"
    )
    parser.add_argument("--room", help="room to talk in (created if it does not exist)")
    parser.add_argument("--input-device", type=_device, help="microphone: device index or name")
    parser.add_argument("--output-device", type=_device, help="speaker: device index or name")
    parser.add_argument("--list-devices", action="store_true", help="list audio devices and exit")
    parser.add_argument(
        "--half-duplex",
        action="store_true",
        help="mute the microphone while an answer plays (by default it stays open and the "
        "gateway cancels the answer's echo, so you can interrupt by speaking)",
    )
    parser.set_defaults(func=run)


def _device(value: str) -> int | str:
    return int(value) if value.isdigit() else value


class TerminalRenderer:
    """Prints a local session's notices: a level meter with the turn state that redraws in
    place, and above it the partial transcript, what you said, the answers, interruptions
    and each turn's latency."""

    def __init__(self, out: TextIO, meter_interval: float = 0.1, width: int = 30) -> None:
        self._out = out
        self._interval = meter_interval
        self._width = width
        self._next_meter = 0.0
        self._partial = ""
        self._state = "listening"

    def show(self, notice: LocalNotice) -> None:
        """Render one notice."""
        match notice:
            case InputLevel(dbfs=dbfs):
                if time.monotonic() >= self._next_meter:
                    self._next_meter = time.monotonic() + self._interval
                    self._meter(dbfs)
            case PartialTranscript(text=text):
                self._partial = text
            case FinalTranscript(text=text):
                self._partial = ""
                self._line(f"you:    {text}")
            case AnswerStarted(text=text):
                self._line(f"answer: {text}")
            case TurnState(floor=floor):
                self._state = floor.value
            case BargeIn(during=during, strategy=strategy):
                self._line(f"        (interrupted while {during}: {strategy})")
            case SpeechIgnored(reason=reason, text=text):
                self._line(f"        ({reason}, not a turn: {text})")
            case TurnMetrics(timings=timings):
                stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.stages().items())
                self._line(f"turn:   {stages}")
            case SessionError(message=message):
                self._line(f"error:  {message}")
            case SessionOpened(room_id=room_id):
                self._line(f"listening in room {room_id}: speak, Ctrl-C to stop")
            case SessionClosed(code=code, reason=reason) if code not in _QUIET_ENDINGS:
                self._line(f"session ended: {reason} ({code})")

    def _meter(self, dbfs: float) -> None:
        filled = round(self._width * min(1.0, max(0.0, (dbfs + 60.0) / 60.0)))
        bar = "#" * filled + " " * (self._width - filled)
        self._out.write(f"\r\x1b[K[{bar}] {dbfs:6.1f} dBFS  {self._state:9}  {self._partial}")
        self._out.flush()

    def _line(self, text: str) -> None:
        self._out.write(f"\r\x1b[K{text}\n")
        self._out.flush()


def run(args: argparse.Namespace) -> int:
    """Run the session until Ctrl-C; exit code 1 without audio devices, 2 without models."""
    if args.list_devices:
        return _list_devices()
    renderer = TerminalRenderer(sys.stdout)
    backend = LocalVoiceBackend(
        args.input_device,
        args.output_device,
        half_duplex=args.half_duplex,
        room_id=args.room,
        on_notice=renderer.show,
    )
    try:
        backend.check()
    except AudioDeviceError as error:
        print(f"voicegate mic: {error}", file=sys.stderr)
        return 1
    from voicegate.engines import create_stt, create_tts

    try:
        stt, tts = create_stt(DEFAULT_STT_MODEL), create_tts(DEFAULT_TTS_VOICE)
    except (OSError, ModelNotAvailableError, ModelLoadError) as error:
        print(f"voicegate mic: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_talk(backend, stt, tts, args.room))
    except KeyboardInterrupt:
        pass
    except AudioDeviceError as error:
        print(f"\nvoicegate mic: {error}", file=sys.stderr)
        return 1
    except ModelLoadError as error:
        print(f"\nvoicegate mic: {error}", file=sys.stderr)
        return 2
    finally:
        stt.close()
        tts.close()
    return 0


def _list_devices() -> int:
    try:
        devices = list_devices()
    except AudioDeviceError as error:
        print(f"voicegate mic: {error}", file=sys.stderr)
        return 1
    if not devices.strip():
        print(
            "voicegate mic: no audio devices found (PortAudio sees no sound card)", file=sys.stderr
        )
        return 1
    print(devices)
    return 0


async def _talk(
    backend: LocalVoiceBackend, stt: STTProvider, tts: TTSProvider, room_id: str | None
) -> None:
    from voicegate import InMemoryStore, RoomKit
    from voicegate.voice.gateway import VoiceGateway

    kit = RoomKit(store=InMemoryStore())
    if room_id is not None:
        await kit.create_room(room_id)
    gateway = VoiceGateway(kit, stt=stt, tts=tts, backends=[backend])
    try:
        print("loading the speech models ...", file=sys.stderr)
        await gateway.start()
        await backend.wait_closed()
    finally:
        await gateway.close()
        await kit.close()

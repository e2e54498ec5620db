"""The LocalVoiceBackend: the real device check on this machine, and the data path.

These machines have no sound card. The device-missing error is checked for real
through ``sounddevice`` and PortAudio. The data path is a unit test: the backend's
stream factory is replaced by ``FakeStreams``, which calls the backend's PortAudio
callback from a worker thread, as PortAudio would, with microphone bytes it is given,
and returns what the callback wrote for the speaker. The last test runs that fake
device through a real VoiceGateway with the real models and the echo responder.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
import pytest

from tests.voice.conftest import pcm_frames, silence, speech
from voicegate import InMemoryStore, RoomKit
from voicegate.audio.frame import AudioFrame
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS
from voicegate.voice.admission import Admission, SessionSlot
from voicegate.voice.auth import auth_context
from voicegate.voice.backend import SessionRequest
from voicegate.voice.gateway import VoiceGateway
from voicegate.voice.local import (
    InputLevel,
    LocalNotice,
    LocalVoiceBackend,
    SessionClosed,
    SessionOpened,
)
from voicegate.voice.local_devices import (
    AudioDeviceError,
    SoundDeviceStreams,
    StreamConfig,
    import_sounddevice,
    list_devices,
)
from voicegate.voice.notices import AnswerEnded, BargeIn, FinalTranscript
from voicegate.voice.session import InterruptionStrategy, VoiceSettings
from voicegate.voice.transport import VoiceTransport

RATE = 16000
BLOCK = 320  # 20 ms
CONFIG = StreamConfig(RATE, BLOCK, None, None)


def has_sound_card() -> bool:
    return len(import_sounddevice().query_devices()) > 0


@pytest.mark.skipif(has_sound_card(), reason="this machine has a sound card")
def test_no_sound_card_is_a_clear_device_error() -> None:
    with pytest.raises(AudioDeviceError, match="no audio device found") as raised:
        SoundDeviceStreams().check(CONFIG)
    assert "\n" not in str(raised.value)
    assert list_devices().strip() == ""


@pytest.mark.skipif(has_sound_card(), reason="this machine has a sound card")
async def test_starting_the_backend_without_a_sound_card_raises_before_any_session() -> None:
    backend = LocalVoiceBackend()
    with pytest.raises(AudioDeviceError, match="PortAudio sees no sound card"):
        await backend.start()
    assert backend.session_count == 0


def test_missing_sounddevice_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(AudioDeviceError, match=r"pip install 'voicegate\[local\]'"):
        SoundDeviceStreams().check(CONFIG)


class FakeStreams:
    """A stand-in for PortAudio: the test hands it microphone blocks one at a time."""

    def __init__(self) -> None:
        self.callback: object = None
        self.started = self.stopped = self.closed = False

    def check(self, config: StreamConfig) -> None:
        assert config == CONFIG

    def open(self, config: StreamConfig, callback: object) -> FakeStreams:
        self.callback = callback
        return self

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True

    async def tick(self, mic: bytes) -> bytes:
        """One PortAudio block on another thread: ``mic`` in, the speaker's bytes out."""
        speaker = bytearray(len(mic))
        assert callable(self.callback)
        await asyncio.to_thread(self.callback, mic, speaker, len(mic) // 2, None, None)
        return bytes(speaker)


@dataclass
class RecordingHandler:
    """A session handler that keeps the transport and every frame it yields."""

    transport: VoiceTransport | None = None
    frames: list[AudioFrame] = field(default_factory=list)
    metadata: object = None
    reading: asyncio.Event = field(default_factory=asyncio.Event)

    def reserve(self) -> SessionSlot:
        return Admission(1, lambda: None).reserve()

    async def run_session(
        self, transport: VoiceTransport, request: SessionRequest, slot: SessionSlot
    ) -> None:
        self.transport, self.metadata = transport, auth_context.get()
        await transport.opened("session-1", request.room_id or "room-1")
        await self.reading.wait()
        async for frame in transport.frames():
            self.frames.append(frame)


@dataclass
class Local:
    backend: LocalVoiceBackend
    streams: FakeStreams
    handler: RecordingHandler
    notices: list[LocalNotice]

    @property
    def transport(self) -> VoiceTransport:
        assert self.handler.transport is not None
        return self.handler.transport


async def start_local(half_duplex: bool = True, max_queued_ms: int = 1000) -> Local:
    streams, handler, notices = FakeStreams(), RecordingHandler(), []
    backend = LocalVoiceBackend(
        half_duplex=half_duplex,
        on_notice=notices.append,
        streams=streams,
        mute_tail_ms=40,
        max_queued_ms=max_queued_ms,
    )
    backend.set_session_handler(handler)
    await backend.start()
    await asyncio.sleep(0.01)
    return Local(backend, streams, handler, notices)


@pytest.fixture
async def local() -> AsyncIterator[Local]:
    made = await start_local()
    made.handler.reading.set()
    yield made
    await made.backend.close()


def tone(value: int, samples: int = BLOCK) -> bytes:
    return np.full(samples, value, np.int16).tobytes()


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_microphone_blocks_reach_the_session_in_order(local: Local) -> None:
    for value in (100, 200, 300):
        assert await local.streams.tick(tone(value)) == tone(0)  # nothing to play yet
    await settle()
    frames = local.handler.frames
    assert [int(f.samples[0, 0]) for f in frames] == [100, 200, 300]
    assert [f.timestamp for f in frames] == [0.0, 0.02, 0.04]
    assert {f.sample_rate for f in frames} == {RATE}
    assert local.streams.started
    assert local.backend.session_count == 1
    assert local.handler.metadata == {"subject": "local", "transport": "local", "rooms": []}
    assert local.notices[0] == SessionOpened("session-1", "room-1")
    levels = [n for n in local.notices if isinstance(n, InputLevel)]
    assert len(levels) == 3
    assert levels[0].dbfs < levels[2].dbfs


async def test_answer_audio_plays_block_by_block_and_mutes_the_microphone(local: Local) -> None:
    answer = np.arange(1, 2 * BLOCK + 101, dtype=np.int16)
    await local.transport.play(AudioFrame(answer, RATE))
    played = [await local.streams.tick(tone(500)) for _ in range(6)]
    await asyncio.wait_for(local.transport.wait_played(), 1)
    heard = np.frombuffer(b"".join(played), np.int16)
    assert np.array_equal(heard[: answer.size], answer)
    assert not heard[answer.size :].any()
    mic = [int(np.abs(f.samples).max()) for f in local.handler.frames]
    # half duplex: no echo of the answer (3 blocks) or its tail (40 ms) reaches the session
    assert mic == [0, 0, 0, 0, 0, 500]


async def test_flush_silences_the_speaker_at_the_next_block(local: Local) -> None:
    await local.transport.play(AudioFrame(np.full(RATE, 1000, np.int16), RATE))
    assert await local.streams.tick(tone(0)) == tone(1000)
    local.transport.flush()
    assert await local.streams.tick(tone(0)) == tone(0)
    await asyncio.wait_for(local.transport.wait_played(), 1)


async def test_full_duplex_passes_the_microphone_while_playing() -> None:
    made = await start_local(half_duplex=False)
    made.handler.reading.set()
    await made.transport.play(AudioFrame(np.full(RATE, 1000, np.int16), RATE))
    await made.streams.tick(tone(700))
    await settle()
    await made.backend.close()
    assert int(made.handler.frames[0].samples[0, 0]) == 700


async def test_a_session_that_falls_behind_loses_its_oldest_blocks_not_the_loop() -> None:
    made = await start_local(max_queued_ms=60)  # three blocks
    for value in range(1, 6):
        await made.streams.tick(tone(value))
    made.handler.reading.set()
    await settle()
    await made.backend.close()
    assert [int(f.samples[0, 0]) for f in made.handler.frames] == [3, 4, 5]


async def test_close_ends_the_session_and_the_stream(local: Local) -> None:
    await local.backend.close()
    await asyncio.wait_for(local.backend.wait_closed(), 1)
    assert local.notices[-1] == SessionClosed(1001, "closing")
    assert local.streams.stopped
    assert local.streams.closed
    assert local.backend.session_count == 0


@pytest.mark.models
async def test_the_fake_device_through_a_real_gateway_hears_the_echo(
    stt: FasterWhisperSTT, stt_base: FasterWhisperSTT, tts: PiperTTS
) -> None:
    sentence = "Please open the garage door."
    streams, notices = FakeStreams(), []
    backend = LocalVoiceBackend(on_notice=notices.append, streams=streams)
    kit = RoomKit(store=InMemoryStore())
    voice = VoiceGateway(kit, stt=stt, tts=tts, backends=[backend])
    await voice.start()
    mic = pcm_frames(await speech(tts, sentence)) + pcm_frames(silence(RATE, 0.5))
    speaker: list[bytes] = []
    loop = asyncio.get_running_loop()
    began = loop.time()
    index = 0
    while not any(isinstance(n, AnswerEnded) for n in notices):
        assert index < 1500, "no answer within 30 s of audio"
        block = mic[index] if index < len(mic) else tone(0)
        speaker.append(await streams.tick(block))
        index += 1
        await asyncio.sleep(max(0.0, began + index * 0.02 - loop.time()))
    await voice.close()
    await kit.close()

    heard = AudioFrame.from_bytes(b"".join(speaker), RATE)
    assert heard.duration > 1.0
    assert word_error_rate([(sentence, (await stt_base.transcribe(heard)).text)]) <= 0.2
    assert any(isinstance(n, SessionClosed) for n in notices)


@pytest.mark.models
@pytest.mark.parametrize("cancel", [True, False], ids=["cancelled", "raw"])
async def test_full_duplex_on_a_laptop_speaker_is_not_interrupted_by_its_own_echo(
    stt: FasterWhisperSTT, tts: PiperTTS, cancel: bool
) -> None:
    """``voicegate mic``'s default: the microphone stays open and picks up the answer from
    the speaker 40 ms later at -12 dB. With the default settings (echo cancellation, the
    ``semantic`` strategy) the answer plays to its end and its echo makes no turn. The
    control: without the canceller and with ``immediate``, that echo interrupts it."""
    settings = (
        VoiceSettings()
        if cancel
        else VoiceSettings(
            echo_cancellation=False,
            interruption_speaking=InterruptionStrategy.IMMEDIATE,
            interruption_thinking=InterruptionStrategy.IMMEDIATE,
        )
    )
    streams, notices = FakeStreams(), []
    backend = LocalVoiceBackend(on_notice=notices.append, streams=streams)
    kit = RoomKit(store=InMemoryStore())
    voice = VoiceGateway(kit, stt=stt, tts=tts, backends=[backend], settings=settings)
    await voice.start()
    request = "Please tell me about the old lighthouse on the hill."
    mic = pcm_frames(await speech(tts, request)) + pcm_frames(silence(RATE, 0.5))
    speaker: list[bytes] = [tone(0)] * 2
    loop = asyncio.get_running_loop()
    began = loop.time()
    index = 0
    while not any(isinstance(n, AnswerEnded | BargeIn) for n in notices):
        assert index < 1500, "no answer within 30 s of audio"
        echo = np.frombuffer(speaker[-2], np.int16) * 10 ** (-12 / 20)
        said = np.frombuffer(mic[index] if index < len(mic) else tone(0), np.int16)
        block = np.clip(said + echo, -32768, 32767).astype(np.int16).tobytes()
        speaker.append(await streams.tick(block))
        index += 1
        await asyncio.sleep(max(0.0, began + index * 0.02 - loop.time()))
    for _ in range(50):  # 1 s more of the echo's tail, for a turn it might still make
        speaker.append(await streams.tick(tone(0)))
        await asyncio.sleep(0.02)
    await voice.close()
    await kit.close()

    barge_ins = [n.strategy for n in notices if isinstance(n, BargeIn)]
    if cancel:
        assert barge_ins == []
        assert [e.interrupted for e in notices if isinstance(e, AnswerEnded)] == [False]
        assert len([n for n in notices if isinstance(n, FinalTranscript)]) == 1
    else:
        assert barge_ins == ["immediate"]

"""A caller who talks over the very start of an answer, on a line with no echo: the echo
canceller cuts their first word's start (its output is used until the sound can be told
from the echo), but the recogniser gets the raw audio of the utterance."""

from __future__ import annotations

import numpy as np

from voicegate.audio.batch import BatchInboundPath
from voicegate.audio.echo import EchoCanceller
from voicegate.audio.echo_path import level_db
from voicegate.audio.frame import AudioFrame
from voicegate.audio.vad import WebRTCVAD
from voicegate.stt.base import STTProvider, Transcript
from voicegate.testing import ToneTTS, silence, speech
from voicegate.voice.listener import Listener
from voicegate.voice.notices import Floor
from voicegate.voice.session import EndOfTurn, VoiceSettings
from voicegate.voice.utterance_events import UtteranceHeard

RATE = 16000
FRAME = RATE // 50
BLOCK = RATE // 100
LOUD_DBFS = -40.0


class RecordingSTT(STTProvider):
    """Hears "wait" in every utterance and keeps the audio of each transcription (the last:
    the final transcript's)."""

    def __init__(self) -> None:
        self.audio: list[AudioFrame] = []

    async def transcribe(self, audio: AudioFrame, language: str | None = None) -> Transcript:
        self.audio.append(audio)
        return Transcript("wait", language or "en", audio.duration, 0.0)


def _loud_ms(audio: AudioFrame) -> int:
    """How many milliseconds of ``audio`` are louder than :data:`LOUD_DBFS`, in 10 ms blocks."""
    samples = audio.samples[: audio.num_samples - audio.num_samples % BLOCK, 0]
    return 10 * sum(level_db(block) >= LOUD_DBFS for block in samples.reshape(-1, BLOCK))


async def test_the_recogniser_gets_the_first_word_the_canceller_cut() -> None:
    text = "one two three four five six seven eight nine ten " * 3
    answer = (await ToneTTS().synthesize(text)).samples[:, 0]  # 3 s
    word = speech(600)
    # 0.7 s into the answer: AEC3's output is used (no judgement yet) and cuts the start
    microphone = np.concatenate(
        [silence(700).samples[:, 0], word.samples[:, 0], silence(900).samples[:, 0]]
    )
    canceller = EchoCanceller()
    path = BatchInboundPath(WebRTCVAD(), RATE, RATE, 1)
    path.add_session("caller", capture=canceller.process)
    stt = RecordingSTT()
    listener = Listener(
        stt,
        VoiceSettings(end_of_turn=EndOfTurn.FIXED),
        floor=lambda: Floor.SPEAKING,
        answer_text=lambda: text,
        on_speech_start=lambda started: None,
        on_interrupt=lambda barge_in: None,
    )
    listener.raw_audio = canceller.raw_since
    cancelled = []
    for start in range(0, len(microphone), FRAME):
        canceller.played(AudioFrame(answer[start : start + FRAME], RATE))
        tick = path.process(["caller"], microphone[None, start : start + FRAME, None], start / RATE)
        cancelled.append(tick.samples[0].copy())
        listener.on_frame(tick.frame(0), bool(tick.speech[0]), float(tick.dbfs[0]))
    listener.end_of_audio()
    heard = [event async for event in listener.events() if isinstance(event, UtteranceHeard)]

    assert not canceller.echo_match.found
    # what every decision heard: the word's start cut
    assert _loud_ms(AudioFrame(np.concatenate(cancelled), RATE)) < word.duration * 1000 - 50
    # what the recogniser heard: all of the word
    assert len(heard) == 1
    assert _loud_ms(stt.audio[-1]) >= word.duration * 1000 - 10

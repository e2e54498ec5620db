"""A caller who talks over the very start of an answer, on a line with no echo: the echo
canceller cuts their first word's start (its output is used until the sound can be told
from the echo), but the recogniser gets the raw audio of the utterance; a word it cut
whole is heard again once it is told from the echo. The echo itself is never given back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytest

from voicegate.audio.batch import BatchInboundPath
from voicegate.audio.echo import EchoCanceller
from voicegate.audio.echo_path import level_db
from voicegate.audio.frame import AudioFrame
from voicegate.audio.vad import WebRTCVAD
from voicegate.stt.base import STTProvider, Transcript
from voicegate.testing import ToneTTS, silence, speech
from voicegate.voice.canceller_view import CancellerView
from voicegate.voice.listener import Listener
from voicegate.voice.notices import BargeIn, Floor
from voicegate.voice.session import EndOfTurn, VoiceSettings
from voicegate.voice.utterance_events import UtteranceHeard

RATE = 16000
FRAME = RATE // 50
BLOCK = RATE // 100
LOUD_DBFS = -40.0
Samples = npt.NDArray[np.int16]


class RecordingSTT(STTProvider):
    """Hears "wait" in every utterance with at least ``words_ms`` of loud audio
    (``short_text`` in less: no words by default) and keeps the audio of each transcription
    (the last: the final transcript's)."""

    def __init__(self, words_ms: int = 0, short_text: str = "") -> None:
        self.words_ms = words_ms
        self.short_text = short_text
        self.audio: list[AudioFrame] = []

    async def transcribe(
        self, audio: AudioFrame, language: str | None = None, *, prompt: str | None = None
    ) -> Transcript:
        self.audio.append(audio)
        text = "wait" if _loud_ms(audio) >= self.words_ms else self.short_text
        return Transcript(text, language or "en", audio.duration, 0.0)


def _loud_ms(audio: AudioFrame) -> int:
    """How many milliseconds of ``audio`` are louder than :data:`LOUD_DBFS`, in 10 ms blocks."""
    samples = audio.samples[: audio.num_samples - audio.num_samples % BLOCK, 0]
    return 10 * sum(level_db(block) >= LOUD_DBFS for block in samples.reshape(-1, BLOCK))


@dataclass
class Call:
    """What one run of :func:`_listen` saw: the audio every decision heard, the utterances,
    what the recogniser was given, the barge-ins, and whether the echo was found."""

    cancelled: AudioFrame
    heard: list[UtteranceHeard]
    stt: RecordingSTT
    barge_ins: list[BargeIn]
    echo_found: bool


async def _listen(answer: Samples, microphone: Samples, stt: RecordingSTT | None = None) -> Call:
    """Play ``answer`` while the caller's ``microphone`` is heard, as a session does: the
    canceller in the inbound path, its raw audio and cut sounds given to the listener, the
    utterances transcribed as they end."""
    text = "one two three"
    canceller = EchoCanceller()
    path = BatchInboundPath(WebRTCVAD(), RATE, RATE, 1)
    path.add_session("caller", capture=canceller.process)
    stt = stt or RecordingSTT()
    barge_ins: list[BargeIn] = []
    listener = Listener(
        stt,
        VoiceSettings(end_of_turn=EndOfTurn.FIXED),
        floor=lambda: Floor.SPEAKING,
        answer_text=lambda: text,
        on_speech_start=lambda started: None,
        on_interrupt=barge_ins.append,
    )
    listener.canceller = CancellerView(canceller, WebRTCVAD())
    played = np.concatenate([answer, np.zeros(len(microphone), np.int16)])
    events = asyncio.create_task(_heard(listener))
    cancelled = []
    for start in range(0, len(microphone), FRAME):
        canceller.played(AudioFrame(played[start : start + FRAME], RATE))
        tick = path.process(["caller"], microphone[None, start : start + FRAME, None], start / RATE)
        cancelled.append(tick.samples[0].copy())
        listener.on_frame(tick.frame(0), bool(tick.speech[0]), float(tick.dbfs[0]))
        await asyncio.sleep(0.001)  # the transcriptions go on meanwhile
    listener.end_of_audio()
    heard = await events
    cancelled_audio = AudioFrame(np.concatenate(cancelled), RATE)
    return Call(cancelled_audio, heard, stt, barge_ins, canceller.echo_match.found)


async def _heard(listener: Listener) -> list[UtteranceHeard]:
    return [event async for event in listener.events() if isinstance(event, UtteranceHeard)]


async def _answer() -> Samples:
    text = "one two three four five six seven eight nine ten " * 3
    return (await ToneTTS().synthesize(text)).samples[:, 0]  # 3 s


def _said(at_ms: int, word: AudioFrame) -> Samples:
    return np.concatenate(
        [silence(at_ms).samples[:, 0], word.samples[:, 0], silence(1500).samples[:, 0]]
    )


async def test_the_recogniser_gets_the_first_word_the_canceller_cut() -> None:
    word = speech(600)
    # 0.7 s into the answer: AEC3's output is used (no judgement yet) and cuts the start
    call = await _listen(await _answer(), _said(700, word))

    # what every decision heard: the word's start cut
    assert _loud_ms(call.cancelled) < word.duration * 1000 - 50
    # what the recogniser heard: all of the word
    assert not call.echo_found
    assert len(call.heard) == 1
    assert _loud_ms(call.stt.audio[-1]) >= word.duration * 1000 - 10


@pytest.mark.parametrize(("at_ms", "word_ms"), [(100, 400), (300, 300)])
async def test_a_word_the_canceller_cut_whole_is_heard_once_it_is_told(
    at_ms: int, word_ms: int
) -> None:
    """Said and over before the matcher can tell it from the echo (0.75 s into the answer),
    the word left nothing loud for the VAD; it is heard, whole, once the matcher has."""
    word = speech(word_ms)
    call = await _listen(await _answer(), _said(at_ms, word))

    assert _loud_ms(call.cancelled) == 0  # what the decisions heard then
    assert len(call.heard) == 1
    assert _loud_ms(call.stt.audio[-1]) >= word.duration * 1000 - 10  # all of it, once
    assert _loud_ms(call.stt.audio[-1]) <= word.duration * 1000 + 10
    assert len(call.barge_ins) == 1  # "wait" stopped the answer


@pytest.mark.parametrize("fragment_has_words", [False, True])
async def test_a_fragment_of_the_cut_word_heard_first_is_replaced_unless_it_had_words(
    fragment_has_words: bool,
) -> None:
    """Said with the answer's first sample, the word's first 10 ms passed the canceller and
    opened an utterance that ended before the matcher could tell: heard as no words, the
    whole word is heard again; heard as a word, it is not heard twice."""
    word = speech(500)
    stt = RecordingSTT(words_ms=0 if fragment_has_words else 100)
    call = await _listen(await _answer(), _said(0, word), stt)

    assert 0 < _loud_ms(call.cancelled) < 100  # a fragment
    assert len(call.heard) == 1
    if fragment_has_words:
        assert _loud_ms(call.stt.audio[-1]) < 100
    else:
        assert _loud_ms(call.stt.audio[-1]) >= word.duration * 1000 - 10


async def test_a_fragment_heard_as_an_acknowledgement_is_replaced_by_the_whole_word() -> None:
    """Prompted with acknowledgements, Whisper heard the cut end of "Stop." as "Uh-huh.": no
    turn, so the whole word is heard again, and it is one (CI126: the answer went on)."""
    word = speech(500)
    stt = RecordingSTT(words_ms=100, short_text="uh-huh")
    call = await _listen(await _answer(), _said(0, word), stt)

    assert 0 < _loud_ms(call.cancelled) < 100  # a fragment
    assert len(call.heard) == 1
    assert call.heard[0].transcript.text == "wait"
    assert _loud_ms(call.stt.audio[-1]) >= word.duration * 1000 - 10
    assert len(call.barge_ins) == 1


async def test_the_answers_echo_at_its_start_is_never_heard_again() -> None:
    answer = await _answer()
    delay = RATE * 60 // 1000  # a 60 ms echo path, 12 dB down
    echo = (np.concatenate([np.zeros(delay), answer]) * 10 ** (-12 / 20)).astype(np.int16)

    call = await _listen(answer, np.concatenate([echo, silence(1500).samples[:, 0]]))

    assert call.echo_found
    assert call.heard == []
    assert call.barge_ins == []


def test_without_a_canceller_the_view_says_no_echo_no_raw_audio_no_cut_sound() -> None:
    view = CancellerView()
    assert (view.is_echo(), view.raw_since(0.0), view.cut_speech(FRAME)) == (False, None, [])
    with pytest.raises(ValueError, match="both the canceller and the session's VAD"):
        CancellerView(EchoCanceller())

"""Piper speech transcribed back by Whisper with the adaptive window: WER <= 10%."""

from __future__ import annotations

import numpy as np
import pytest

from voicegate.audio.frame import AudioFrame
from voicegate.stt.wer import word_error_rate
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.tts.piper import PiperTTS

pytestmark = pytest.mark.models


async def test_tts_to_stt_round_trip_word_error_rate(
    stt: FasterWhisperSTT, tts: PiperTTS, sentences: tuple[str, ...]
) -> None:
    assert stt.window_margin is not None
    pairs = []
    for sentence in sentences:
        speech = await tts.synthesize(sentence)
        transcript = await stt.transcribe(speech)
        assert transcript.audio_duration == pytest.approx(speech.duration, abs=0.01)
        pairs.append((sentence, transcript.text))
    wer = word_error_rate(pairs)
    assert wer <= 0.10, f"WER {wer:.1%}: {pairs}"


async def test_silence_gives_an_empty_transcript(stt: FasterWhisperSTT) -> None:
    transcript = await stt.transcribe(AudioFrame(np.zeros(16000, np.int16), 16000))
    assert transcript.text == ""

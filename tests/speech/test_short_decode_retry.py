"""A short-window decode that looks failed is tried again (after a lead-in of silence, then with
a beam), and only then decoded over Whisper's 30 s window (0.4-1.2 s of the worker)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from voicegate.bench.prompts import Prompt, load_prompts
from voicegate.stt.base import TranscriptSegment
from voicegate.stt.wer import normalize
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.stt.whisper_window import SECOND_TRIES, Heard, ShortWindowDecoder

RETRIED_PROMPTS = ("vm-deleted", "digits/yesterday", "astcc-followed-by-the-pound-key")
"""Real recordings (16 kHz) whose short decode is unsure, and right after the lead-in. The
pound key's first decode passed on an AMD EPYC VM and failed on the VM before it: the CPUs'
float kernels differ, and the decode is at the edge. Two of the three must be retried."""


@pytest.fixture(scope="module")
def prompts() -> dict[str, Prompt]:
    return {prompt.name: prompt for prompt in load_prompts()}


@pytest.mark.models
def test_an_unsure_short_decode_is_heard_on_its_second_try_without_the_30s_decode(
    stt: FasterWhisperSTT, monkeypatch: pytest.MonkeyPatch, prompts: dict[str, Prompt]
) -> None:
    decoded: list[tuple[int, bool]] = []  # each short decode: samples, whether it failed
    decode = ShortWindowDecoder.decode

    def recorded(self: ShortWindowDecoder, samples: list[Any], *args: Any) -> list[Heard]:
        heard = decode(self, samples, *args)
        decoded.extend(
            (len(audio), segments is None)
            for audio, (_, segments) in zip(samples, heard, strict=True)
        )
        return heard

    def no_full_window(*args: object) -> None:
        raise AssertionError("the 30 s decode ran")

    monkeypatch.setattr(ShortWindowDecoder, "decode", recorded)
    monkeypatch.setattr(stt, "_transcribe_full", no_full_window)
    retried = []
    for name in RETRIED_PROMPTS:
        prompt, decoded[:] = prompts[name], []
        audio = prompt.audio(16000)
        heard = asyncio.run(stt.transcribe(audio))
        assert normalize(heard.text) == normalize(prompt.text), (name, heard.text)
        lead_in = round(SECOND_TRIES[0].lead_in * 16000)
        if decoded[0] == (audio.num_samples, False):  # heard at once on this CPU
            assert decoded == [(audio.num_samples, False)], name
            continue
        retried.append(name)
        assert decoded == [(audio.num_samples, True), (audio.num_samples + lead_in, False)], name
        assert all(0 <= s.start < s.end <= audio.duration + 1e-9 for s in heard.segments), (
            heard.segments
        )
    assert len(retried) >= 2, retried


@pytest.mark.models
@pytest.mark.parametrize(
    ("answers", "text"),
    [
        ([None, None, [TranscriptSegment(0.0, 1.0, "Semicolon.")]], "Semicolon."),
        ([None, [], []], "Semi-colon."),  # the tries heard silence where the first heard speech
    ],
)
def test_the_tries_take_a_lead_in_then_a_beam_then_the_30s_decode(
    stt: FasterWhisperSTT,
    monkeypatch: pytest.MonkeyPatch,
    prompts: dict[str, Prompt],
    answers: list[list[TranscriptSegment] | None],
    text: str,
) -> None:
    tries: list[tuple[int, int]] = []  # each short decode: its beam, its samples

    def decode(self: ShortWindowDecoder, samples: list[Any], *args: Any) -> list[Heard]:
        tries.append((self.beam_size, len(samples[0])))
        return [("en", answers.pop(0))]

    full = [TranscriptSegment(0.0, 1.0, "Semi-colon.")]
    monkeypatch.setattr(ShortWindowDecoder, "decode", decode)
    monkeypatch.setattr(stt, "_transcribe_full", lambda *args: ("en", full))
    audio = prompts["letters/ascii59"].audio(16000)
    heard = stt.recognise(audio)
    assert heard.text == text
    lead_in = round(SECOND_TRIES[0].lead_in * 16000)
    assert tries == [
        (1, audio.num_samples),
        (1, audio.num_samples + lead_in),
        (5, audio.num_samples),
    ]

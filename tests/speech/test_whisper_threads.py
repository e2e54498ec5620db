"""Whisper takes half the CPU cores by default (it shares them with Smart Turn and Piper)."""

from __future__ import annotations

import os

import pytest

from voicegate.stt.whisper import FasterWhisperSTT


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 1), (16, 8)])
def test_whisper_takes_half_the_cores(
    monkeypatch: pytest.MonkeyPatch, cores: int, threads: int
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert FasterWhisperSTT().cpu_threads == threads
    assert FasterWhisperSTT(cpu_threads=3).cpu_threads == 3

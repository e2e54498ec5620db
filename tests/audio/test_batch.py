"""The batched inbound path gives the same results as each session processed alone."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from voicegate.audio import AudioFrame, BatchInboundPath, EnergyVAD, Resampler, WebRTCVAD

from .conftest import tone


def session_audio(seed: int, ticks: int) -> npt.NDArray[np.int16]:
    """48 kHz stereo: a tone burst in noise, different per session."""
    rng = np.random.default_rng(seed)
    n = ticks * 960
    signal = tone(200 + 97 * seed, 48000, n / 48000, 0.3) * (np.arange(n) % 24000 < 12000)
    stereo = np.stack([signal, 0.5 * signal], axis=1) + rng.normal(0, 30, (n, 2))
    return np.rint(stereo).astype(np.int16)


def per_session(audio: npt.NDArray[np.int16]) -> list[tuple[AudioFrame, float, bool]]:
    """The reference: one session alone, frame by frame."""
    resampler, vad = Resampler(48000, 16000), WebRTCVAD().new_stream()
    results = []
    for offset in range(0, len(audio), 960):
        chunk = audio[offset : offset + 960].astype(np.float32).mean(axis=1)
        out = resampler.process(chunk)
        assert isinstance(out, np.ndarray)
        frame = AudioFrame(np.clip(np.rint(out), -32768, 32767).astype(np.int16), 16000)
        results.append((frame, frame.dbfs(), vad.is_speech(frame)))
    return results


def test_batch_matches_per_session_with_joins_and_leaves() -> None:
    ticks = 60
    audio = {seed: session_audio(seed, ticks) for seed in range(5)}
    joins = {0: 0, 1: 0, 2: 0, 3: 10, 4: 25}
    leaves = {1: 30}
    expected = {seed: per_session(audio[seed][joins[seed] * 960 :]) for seed in audio}
    path = BatchInboundPath(WebRTCVAD())
    compared = 0
    for tick in range(ticks):
        for seed, at in joins.items():
            if at == tick:
                path.add_session(f"s{seed}")
        for seed, at in leaves.items():
            if at == tick:
                path.remove_session(f"s{seed}")
        rows = [int(session[1:]) for session in path.session_ids]
        block = np.stack([audio[seed][tick * 960 : (tick + 1) * 960] for seed in rows])
        result = path.process(block, tick * 0.02)
        assert result.samples.shape == (len(rows), 320)
        for row, seed in enumerate(rows):
            frame, dbfs, speech = expected[seed][tick - joins[seed]]
            difference = np.abs(result.samples[row].astype(np.int32) - frame.samples[:, 0])
            assert difference.max() <= 1
            assert result.dbfs[row] == pytest.approx(dbfs, abs=0.05), "rounding may differ by 1 LSB"
            assert result.speech[row] == speech
            assert result.frame(row).timestamp == pytest.approx(tick * 0.02)
            compared += 1
    assert compared == 3 * 60 + 50 + 35 - 30


def test_bad_blocks_and_sessions_are_clear_errors() -> None:
    path = BatchInboundPath(EnergyVAD())
    path.add_session("a")
    with pytest.raises(ValueError, match="already"):
        path.add_session("a")
    with pytest.raises(KeyError, match="not in the batch"):
        path.remove_session("b")
    with pytest.raises(ValueError, match=r"shaped \(1, n, 2\)"):
        path.process(np.zeros((2, 960, 2), np.int16))
    with pytest.raises(ValueError, match="int16"):
        path.process(np.zeros((1, 960, 2), np.float32))  # type: ignore[arg-type]


def test_empty_batch_and_energy_vad() -> None:
    path = BatchInboundPath(EnergyVAD(start_dbfs=-40, stop_dbfs=-50))
    assert path.process(np.zeros((0, 960, 2), np.int16)).samples.shape == (0, 320)
    path.add_session("loud")
    path.add_session("quiet")
    loud = np.rint(tone(440, 48000, 0.02, 0.5)).astype(np.int16)
    block = np.stack([np.stack([loud, loud], axis=1), np.zeros((960, 2), np.int16)])
    path.process(block)
    result = path.process(block)
    assert result.speech.tolist() == [True, False]
    assert result.dbfs[1] == -120.0

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
        result = path.process(path.session_ids, block, tick * 0.02)
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
    with pytest.raises(ValueError, match=r"shaped \(1, 960, 2\)"):
        path.process(["a"], np.zeros((2, 960, 2), np.int16))
    with pytest.raises(ValueError, match="int16"):
        path.process(["a"], np.zeros((1, 960, 2), np.float32))  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="not in the batch"):
        path.process(["b"], np.zeros((1, 960, 2), np.int16))
    with pytest.raises(ValueError, match="do not align"):
        BatchInboundPath(EnergyVAD(), in_rate=11025)


def test_empty_batch_and_energy_vad() -> None:
    path = BatchInboundPath(EnergyVAD(start_dbfs=-40, stop_dbfs=-50))
    assert path.process([], np.zeros((0, 960, 2), np.int16)).samples.shape == (0, 320)
    path.add_session("loud")
    path.add_session("quiet")
    loud = np.rint(tone(440, 48000, 0.02, 0.5)).astype(np.int16)
    block = np.stack([np.stack([loud, loud], axis=1), np.zeros((960, 2), np.int16)])
    path.process(["loud", "quiet"], block)
    result = path.process(["loud", "quiet"], block)
    assert result.speech.tolist() == [True, False]
    assert result.dbfs[1] == -120.0


def test_any_subset_of_sessions_per_call_gives_each_its_own_stream() -> None:
    """Sessions whose frames arrive at different times are processed in different calls."""
    ticks = 30
    audio = {seed: session_audio(seed, ticks) for seed in range(3)}
    expected = {seed: per_session(audio[seed]) for seed in audio}
    path = BatchInboundPath(WebRTCVAD())
    for seed in audio:
        path.add_session(f"s{seed}")
    done = dict.fromkeys(audio, 0)
    rng = np.random.default_rng(7)
    while min(done.values()) < ticks:
        ready = [seed for seed in audio if done[seed] < ticks and rng.random() < 0.6]
        if not ready:
            continue
        block = np.stack([audio[s][done[s] * 960 : (done[s] + 1) * 960] for s in ready])
        result = path.process([f"s{s}" for s in ready], block)
        for row, seed in enumerate(ready):
            frame, _, speech = expected[seed][done[seed]]
            assert np.abs(result.samples[row].astype(np.int32) - frame.samples[:, 0]).max() <= 1
            assert result.speech[row] == speech
            done[seed] += 1


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_every_supported_input_rate_matches_the_streaming_resampler(rate: int) -> None:
    mono = np.rint(tone(300, rate, 0.2, 0.4)).astype(np.int16)
    path = BatchInboundPath(EnergyVAD(), in_rate=rate, in_channels=1)
    path.add_session("a")
    resampler = Resampler(rate, 16000)
    n = rate // 50
    for offset in range(0, len(mono), n):
        chunk = mono[offset : offset + n]
        got = path.process(["a"], chunk.reshape(1, n, 1)).samples[0]
        want = resampler.process(AudioFrame(chunk, rate))
        assert isinstance(want, AudioFrame)
        assert np.abs(got.astype(np.int32) - want.samples[:, 0]).max() <= 1

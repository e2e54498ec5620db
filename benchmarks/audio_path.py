"""Inbound audio path per 20 ms frame: 48 kHz stereo -> mono 16 kHz -> VAD -> level.

Side by side in one run, pinned to one core: a pure-Python path, ``np.interp`` (no anti-alias
filter), soxr streaming, PyAV's swresample, voicegate per session and voicegate batched,
for 1, 10, 100 and 1000 sessions. Then quality for each resampler at 48k -> 16k: SNR against
the exact signal, the alias level of a 10 kHz tone, and the latency it adds.

Writes ``benchmarks/results/audio_path.json`` and ``audio_path.png``.
"""

from __future__ import annotations

import os

from voicegate.cli.threads import limit_blas_threads

limit_blas_threads()
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import array  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import av  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import soxr  # noqa: E402
import webrtcvad  # noqa: E402

from voicegate.audio import AudioFrame, BatchInboundPath, Resampler, WebRTCVAD  # noqa: E402
from voicegate.audio.frame import to_int16  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

IN_RATE, OUT_RATE, FRAME = 48000, 16000, 960
SESSIONS = (1, 10, 100, 1000)
RESULTS = Path(__file__).parent / "results"
Block = npt.NDArray[np.int16]
Chunker = Callable[[npt.NDArray[np.int16]], npt.NDArray[np.int16]]


def level_dbfs(mono: npt.NDArray[np.int16]) -> float:
    return AudioFrame(mono, OUT_RATE).dbfs()


class PerSession:
    """A path that runs one Python call chain per session per frame."""

    def __init__(self, sessions: int, make: Callable[[], Chunker]) -> None:
        self.resamplers = [make() for _ in range(sessions)]
        self.vads = [webrtcvad.Vad(2) for _ in range(sessions)]

    def tick(self, block: Block) -> None:
        for row, resample_chunk in enumerate(self.resamplers):
            mono = resample_chunk(block[row])
            if len(mono) < 320:  # soxr and PyAV hold back their first frames
                mono = np.zeros(320, np.int16)
            self.vads[row].is_speech(mono[:320].tobytes(), OUT_RATE)
            level_dbfs(mono[:320])


class PurePython:
    """Lists and loops: average the channels, linear interpolation at 1/3 steps, level in Python."""

    def __init__(self, sessions: int) -> None:
        self.vads = [webrtcvad.Vad(2) for _ in range(sessions)]

    def tick(self, block: Block) -> None:
        for row, vad in enumerate(self.vads):
            pcm = array.array("h", block[row].tobytes())
            mono = [(pcm[i] + pcm[i + 1]) / 2 for i in range(0, len(pcm), 2)]
            step = IN_RATE / OUT_RATE
            out = []
            for k in range(len(mono) // 3):
                position = k * step
                base = int(position)
                upper = mono[min(base + 1, len(mono) - 1)]
                out.append(int(mono[base] + (position - base) * (upper - mono[base])))
            vad.is_speech(array.array("h", out).tobytes(), OUT_RATE)
            power = sum(v * v for v in out) / len(out)
            20 * math.log10(max(math.sqrt(power) / 32768, 1e-6))


def interp_chunker() -> Chunker:
    positions = np.arange(FRAME // 3) * 3.0
    grid = np.arange(FRAME, dtype=np.float64)

    def run(stereo: Block) -> Block:
        mono = stereo.mean(axis=1)
        resampled: Block = np.rint(np.interp(positions, grid, mono)).astype(np.int16)
        return resampled

    return run


def soxr_chunker() -> Chunker:
    stream = soxr.ResampleStream(IN_RATE, OUT_RATE, 1, dtype="int16")

    def run(stereo: Block) -> Block:
        mono = np.rint(stereo.mean(axis=1)).astype(np.int16)
        resampled: Block = stream.resample_chunk(mono)
        return resampled

    return run


def pyav_chunker() -> Chunker:
    resampler = av.AudioResampler(format="s16", layout="mono", rate=OUT_RATE)
    pts = [0]

    def run(stereo: Block) -> Block:
        frame = av.AudioFrame.from_ndarray(stereo.reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = IN_RATE
        frame.pts = pts[0]
        pts[0] += FRAME
        chunks = [f.to_ndarray()[0] for f in resampler.resample(frame)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)

    return run


def voicegate_chunker() -> Chunker:
    resampler = Resampler(IN_RATE, OUT_RATE)

    def run(stereo: Block) -> Block:
        frame = AudioFrame(stereo, IN_RATE).downmix()
        out = resampler.process(frame)
        assert isinstance(out, AudioFrame)
        return out.samples[:, 0]

    return run


class Batched:
    def __init__(self, sessions: int) -> None:
        self.path = BatchInboundPath(WebRTCVAD(aggressiveness=2))
        self.ids = [str(session) for session in range(sessions)]
        for session in self.ids:
            self.path.add_session(session)

    def tick(self, block: Block) -> None:
        self.path.process(self.ids, block)


PATHS: dict[str, Callable[[int], PurePython | PerSession | Batched]] = {
    "pure Python": PurePython,
    "np.interp": lambda n: PerSession(n, interp_chunker),
    "soxr stream": lambda n: PerSession(n, soxr_chunker),
    "PyAV": lambda n: PerSession(n, pyav_chunker),
    "voicegate per session": lambda n: PerSession(n, voicegate_chunker),
    "voicegate batched": Batched,
}


def speech_like_block(sessions: int, rng: np.random.Generator) -> Block:
    noise = rng.normal(0, 3000, (sessions, FRAME, 2))
    return to_int16(noise)


def time_path(name: str, sessions: int, rng: np.random.Generator) -> float:
    """Microseconds per session-frame (best of a few repeats)."""
    path = PATHS[name](sessions)
    block = speech_like_block(sessions, rng)
    for _ in range(3):
        path.tick(block)
    ticks = max(1, min(50, 2000 // sessions)) if name != "pure Python" else 1
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(ticks):
            path.tick(block)
        best = min(best, (time.perf_counter() - start) / ticks)
    return best / sessions * 1e6


def exact_tones(rate: int, seconds: float) -> npt.NDArray[np.float64]:
    t = np.arange(round(rate * seconds)) / rate
    return 8000 * (np.sin(2 * np.pi * 440 * t) + np.sin(2 * np.pi * 3100 * t + 1))


def stream_mono(chunker: Chunker, signal: npt.NDArray[np.float64]) -> tuple[Block, float]:
    """Stream 20 ms chunks; also return the worst audio held back (input fed minus output out)."""
    stereo = np.repeat(np.rint(signal).astype(np.int16)[:, None], 2, axis=1)
    outs, held_back = [], 0.0
    fed = emitted = 0
    for offset in range(0, len(stereo) - FRAME + 1, FRAME):
        out = chunker(stereo[offset : offset + FRAME])
        fed += FRAME
        emitted += len(out)
        outs.append(out)
        if offset >= IN_RATE // 10:
            held_back = max(held_back, fed / IN_RATE - emitted / OUT_RATE)
    return np.concatenate(outs), held_back


def quality(make: Callable[[], Chunker]) -> dict[str, float]:
    """SNR vs the exact signal, alias of a 10 kHz tone (dBc), latency added (ms)."""
    out, held_back = stream_mono(make(), exact_tones(IN_RATE, 1.0))
    ideal = exact_tones(OUT_RATE, 1.0)
    best_lag, best_snr = 0, -math.inf
    for lag in range(0, 200):
        a = out[lag + 1000 : lag + 12000].astype(np.float64)
        b = ideal[1000 : 1000 + len(a)]
        snr = 10 * math.log10(np.sum(b * b) / max(np.sum((a - b) ** 2), 1e-9))
        if snr > best_snr:
            best_lag, best_snr = lag, snr
    alias_in = 16000 * np.sin(2 * np.pi * 10000 * np.arange(IN_RATE) / IN_RATE)
    alias_out, _ = stream_mono(make(), alias_in)
    steady = alias_out[2000:14000].astype(np.float64)
    window = np.blackman(len(steady))
    alias_dbc = 20 * math.log10(
        max(np.abs(np.fft.rfft(steady * window)).max() / (window.sum() / 2), 1e-9) / 16000
    )
    return {
        "snr_db": round(best_snr, 1),
        "alias_dbc": round(alias_dbc, 1),
        "latency_ms": round((held_back + best_lag / OUT_RATE) * 1000, 2),
    }


def main() -> None:
    rng = np.random.default_rng(0)
    timings: dict[str, dict[str, float]] = {name: {} for name in PATHS}
    for sessions in SESSIONS:
        for name in PATHS:
            us = time_path(name, sessions, rng)
            timings[name][str(sessions)] = round(us, 2)
            print(f"{sessions:5d} sessions  {name:24s} {us:9.2f} us per session-frame", flush=True)
    qualities = {
        "np.interp": quality(interp_chunker),
        "soxr stream": quality(soxr_chunker),
        "PyAV": quality(pyav_chunker),
        "voicegate": quality(voicegate_chunker),
    }
    for name, row in qualities.items():
        print(f"quality  {name:12s} {row}", flush=True)
    batched = timings["voicegate batched"]["1000"]
    report = {
        "machine": f"{platform.processor() or platform.machine()}, pinned to one core",
        "cpu_count": os.cpu_count(),
        "us_per_session_frame": timings,
        "sessions_per_core_realtime_batched": int(20000 / batched),
        "quality_48k_to_16k": qualities,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "audio_path.json").write_text(json.dumps(report, indent=2) + "\n")
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, row in timings.items():
        axis.plot(SESSIONS, [row[str(n)] for n in SESSIONS], marker="o", label=name)
    axis.axhline(30, color="grey", linestyle="--", label="goal: 30 us")
    axis.set(xscale="log", yscale="log", xlabel="sessions", ylabel="us per session-frame")
    axis.set_title("Inbound path per 20 ms frame (one core)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(RESULTS / "audio_path.png", dpi=110)
    print(
        f"real time on one core (batched): {report['sessions_per_core_realtime_batched']} sessions"
    )


if __name__ == "__main__":
    main()

"""Speech and background noise for the turn-taking evaluation, all 16 kHz mono int16.

Synthetic callers speak with the Piper voice at three speeds and with espeak-ng's
American and British voices (espeak-ng comes from Debian); real ones are the Asterisk
prompts (:mod:`voicegate.bench.prompts`). Noise is pink (a steady hum and hiss) or
babble (other people talking: four prompts at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from voicegate.audio.frame import AudioFrame, to_int16
from voicegate.audio.resample import resample
from voicegate.bench.espeak import espeak
from voicegate.bench.prompts import load_prompts
from voicegate.bench.speech import SAMPLE_RATE
from voicegate.catalog import DEFAULT_TTS_VOICE, resolve_model

Samples = npt.NDArray[np.int16]


@dataclass(frozen=True, slots=True)
class Voice:
    """A synthetic caller: ``engine`` ``piper`` (``speed`` is Piper's length scale, above 1
    slower) or ``espeak`` (``speed`` in words a minute, ``name`` an espeak-ng voice)."""

    label: str
    engine: str
    speed: float
    name: str = ""


VOICES: tuple[Voice, ...] = (
    Voice("piper", "piper", 1.0),
    Voice("piper-fast", "piper", 0.85),
    Voice("piper-slow", "piper", 1.2),
    Voice("espeak-us", "espeak", 165, "en-us"),
    Voice("espeak-gb-f", "espeak", 150, "en-gb+f3"),
)


@cache
def _piper() -> Any:
    from piper import PiperVoice

    return PiperVoice.load(str(resolve_model(DEFAULT_TTS_VOICE, "tts")))


def speak(voice: Voice, text: str) -> Samples:
    """``text`` in ``voice``, trimmed of its leading and trailing silence."""
    if voice.engine == "piper":
        from piper import SynthesisConfig

        piper = _piper()
        config = SynthesisConfig(length_scale=voice.speed)
        chunks = [c.audio_int16_array for c in piper.synthesize(text, syn_config=config)]
        audio = AudioFrame(np.concatenate(chunks), piper.config.sample_rate)
    else:
        audio = espeak(text, voice.name, int(voice.speed))
    return trim(resample(audio, SAMPLE_RATE).samples[:, 0])


def trim(samples: Samples, floor_db: float = 40.0) -> Samples:
    """``samples`` from their first to their last sample within ``floor_db`` of the peak."""
    magnitude = np.abs(samples.astype(np.int32))
    loud = np.flatnonzero(magnitude > magnitude.max() * 10 ** (-floor_db / 20))
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples


def active_rms(samples: Samples) -> float:
    """The RMS of the 20 ms frames within 30 dB of the loudest (the speech, not its gaps)."""
    size = SAMPLE_RATE // 50
    frames = samples[: len(samples) // size * size].astype(np.float64).reshape(-1, size)
    rms = np.sqrt((frames**2).mean(axis=1))
    return float(np.sqrt((rms[rms > rms.max() * 10 ** (-30 / 20)] ** 2).mean()))


def noise(kind: str, seconds: float, rms: float, seed: int = 0) -> Samples:
    """``seconds`` of ``pink`` or ``babble`` noise at ``rms`` (int16 units)."""
    count = round(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    if kind == "pink":
        spectrum = np.fft.rfft(rng.standard_normal(count))
        spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
        signal = np.fft.irfft(spectrum, count)
    elif kind == "babble":
        prompts = load_prompts()
        signal = np.zeros(count)
        for talker in range(4):
            picks = rng.permutation(len(prompts))
            voice: list[Samples] = []
            while sum(map(len, voice)) < count:
                voice.append(prompts[int(picks[len(voice)])].audio(SAMPLE_RATE).samples[:, 0])
            joined = np.concatenate(voice)[:count].astype(np.float64)
            signal += np.roll(joined, talker * SAMPLE_RATE // 3)
    else:
        raise ValueError(f"unknown noise {kind!r}: pink or babble")
    return to_int16(signal * rms / max(float(np.sqrt((signal**2).mean())), 1e-9))

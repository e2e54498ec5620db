"""Speech in many languages from espeak-ng (Debian's ``espeak-ng``): a robotic voice, but
one that speaks French, German, Spanish and English alike, for tests and benchmarks."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from voicegate.audio.frame import AudioFrame
from voicegate.audio.wav import read_wav
from voicegate.errors import RoomKitError

VOICES = {"en": "en-us", "fr": "fr", "de": "de", "es": "es"}
"""The espeak-ng voice for each language code the benchmarks use."""


class EspeakUnavailableError(RoomKitError):
    """espeak-ng is not installed (``scripts/install-system-deps.sh`` installs it)."""


def espeak(text: str, language: str) -> AudioFrame:
    """``text`` spoken by espeak-ng's voice for ``language`` (22.05 kHz mono)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise EspeakUnavailableError("espeak-ng is not installed: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        voice = VOICES.get(language, language)
        subprocess.run([binary, "-v", voice, "-w", str(wav), text], check=True)
        return read_wav(wav)

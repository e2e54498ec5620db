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
WORDS_PER_MINUTE = 150
"""A little slower than espeak-ng's 175: its robotic French at full speed defeats Whisper
base (one sentence in two came back as other words)."""


class EspeakUnavailableError(RoomKitError):
    """espeak-ng is not installed (``scripts/install-system-deps.sh`` installs it)."""


def espeak(text: str, language: str, words_per_minute: int = WORDS_PER_MINUTE) -> AudioFrame:
    """``text`` spoken by espeak-ng's voice for ``language`` (or the espeak-ng voice of that
    name, such as ``en-gb+f3``), 22.05 kHz mono."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise EspeakUnavailableError("espeak-ng is not installed: apt-get install espeak-ng")
    with tempfile.TemporaryDirectory() as folder:
        wav = Path(folder) / "speech.wav"
        voice = VOICES.get(language, language)
        command = [binary, "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text]
        subprocess.run(command, check=True)
        return read_wav(wav)

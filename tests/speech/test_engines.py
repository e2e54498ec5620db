"""Speech engines by name: the catalog's ``engine`` field picks the implementation."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicegate import engines
from voicegate.catalog import load_catalog, resolve_model
from voicegate.engines import STT_ENGINES, EngineRegistry, create_stt, create_tts
from voicegate.errors import ModelNotAvailableError
from voicegate.stt.base import STTProvider
from voicegate.stt.whisper import FasterWhisperSTT
from voicegate.testing import ScriptedSTT
from voicegate.tts.piper import PiperTTS

VOSK = """
[[model]]
id = "vosk-small-en"
kind = "stt"
engine = "vosk"
package = "vosk-models"
locate = "vosk_models:model_path"
licence = "Apache-2.0"
sample_rate = 16000
"""


def test_the_manifest_models_run_on_their_engines() -> None:
    stt = create_stt("whisper-tiny.en")
    tts = create_tts("piper-en_US-joe-medium")
    assert isinstance(stt, FasterWhisperSTT)
    assert isinstance(tts, PiperTTS)
    stt.close()
    tts.close()


def test_a_local_path_runs_on_the_engine_of_the_default_model() -> None:
    stt = create_stt(str(resolve_model("whisper-tiny.en", "stt")))
    assert isinstance(stt, FasterWhisperSTT)
    stt.close()


def test_a_registered_engine_runs_the_models_that_name_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engines, "load_catalog", lambda: load_catalog(VOSK))
    registry = EngineRegistry[STTProvider]("stt", {})
    with pytest.raises(ModelNotAvailableError, match="engine 'vosk', which is not registered"):
        registry.create("vosk-small-en")
    made: list[str] = []

    def vosk(model: str) -> STTProvider:
        made.append(model)
        return ScriptedSTT([])

    registry.register("vosk", vosk)
    assert isinstance(registry.create("vosk-small-en"), ScriptedSTT)
    assert made == ["vosk-small-en"]
    assert registry.names == ["vosk"]


def test_a_model_of_the_other_kind_is_refused() -> None:
    with pytest.raises(ModelNotAvailableError, match="is a tts model, not stt"):
        create_stt("piper-en_US-joe-medium")


def test_the_shipped_engines_are_registered() -> None:
    assert "faster-whisper" in STT_ENGINES.names
    speech = [entry for entry in load_catalog().values() if entry.kind in ("stt", "tts")]
    assert {entry.engine for entry in speech} <= {
        *STT_ENGINES.names,
        *engines.TTS_ENGINES.names,
    }


def test_an_unknown_local_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="unknown stt model"):
        create_stt(str(tmp_path / "nothing-here"))

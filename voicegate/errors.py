"""Every error voicegate raises on purpose derives from :class:`RoomKitError`."""

from __future__ import annotations


class RoomKitError(Exception):
    """Base class of voicegate's errors."""


class RoomNotFoundError(RoomKitError):
    """Room does not exist."""


class ChannelNotFoundError(RoomKitError):
    """Channel binding not found in room."""


class ChannelNotRegisteredError(RoomKitError):
    """Channel type not registered."""


class ConfigError(RoomKitError):
    """A configuration value is missing or invalid."""


class ModelNotAvailableError(RoomKitError):
    """A speech model is not installed; the message names the package to install."""


class ChannelAlreadyRegisteredError(RoomKitError):
    """A different channel is already registered under this channel id."""


class RoomClosedError(RoomKitError):
    """The room is closed and accepts no more events."""


class ProcessTimeoutError(RoomKitError):
    """The locked processing phase (lock wait included) ran past ``process_timeout``."""


class ModelLoadError(RoomKitError):
    """A speech model is there but cannot be loaded: a corrupt, incomplete or wrong file."""

    @classmethod
    def caused_by(cls, what: str, exc: BaseException) -> ModelLoadError:
        """``what`` cannot be loaded because of ``exc``, said on one line."""
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())
        return cls(f"{what} cannot be loaded: {cause}")

"""Configuration of ``voicegate serve``: flags, then environment, then a TOML file, then defaults.

Every setting is declared once, in :data:`SETTINGS`; the argument parser, the
environment names (``VOICEGATE_<NAME>``), the TOML keys and ``--help`` all come
from that table. Every field of :class:`VoiceSettings` is a setting too; its
default is the dataclass's own.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicegate.catalog import DEFAULT_STT_MODEL, DEFAULT_TTS_VOICE
from voicegate.errors import ConfigError
from voicegate.redis.lease import LEASE_TTL_S
from voicegate.server.settings_table import ENV_PREFIX, SETTINGS, Setting
from voicegate.stt.worker import PARTIAL_BUSY_LIMIT
from voicegate.voice.ai import DEFAULT_AI_URL
from voicegate.voice.session import VoiceSettings


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Every setting of ``voicegate serve``, validated."""

    host: str = "127.0.0.1"
    port: int = 8765
    data_dir: Path = Path("voicegate-data")
    store: str = "sqlite"
    postgres_url: str | None = None
    redis_url: str | None = None
    stt_model: str = DEFAULT_STT_MODEL
    stt_device: str = "auto"
    stt_batch: int = 0
    stt_partial_busy: float = PARTIAL_BUSY_LIMIT
    tts_voice: str = DEFAULT_TTS_VOICE
    responder: str = "echo"
    ai_url: str = DEFAULT_AI_URL
    ai_model: str = "local"
    anonymous: bool = False
    token_ttl: float = 600.0
    token_secret_file: Path | None = None
    max_sessions: int = 32
    drain_timeout: float = 30.0
    lease_ttl: float = LEASE_TTL_S
    webrtc: bool = True
    twilio: bool = False
    twilio_auth_token: str = ""
    twilio_public_url: str = ""
    sip: bool = False
    sip_port: int = 5060
    sip_transports: tuple[str, ...] = ("udp", "tcp")
    sip_public_address: str = ""
    sip_users: dict[str, str] = field(default_factory=dict)
    sip_realm: str = "voicegate"
    sip_room_from_uri: bool = False
    rtp_ports: tuple[int, int] = (10000, 20000)
    rtp_timeout: float = 30.0
    record_calls: bool = False
    recording_format: str = "wav"
    recording_retention_days: float = 0.0
    voice: VoiceSettings = field(default_factory=VoiceSettings)

    @property
    def store_path(self) -> Path:
        """The SQLite file conversations are kept in."""
        return self.data_dir / "voicegate.sqlite3"

    def page_url(self, token: str | None, port: int | None = None) -> str:
        """The call page's address (on ``port`` if given, e.g. the one bound for port 0)."""
        base = f"http://{self.host}:{self.port if port is None else port}/"
        return base if token is None else f"{base}?token={token}"

    def fresh_link_command(self, port: int) -> str:
        """The ``voicegate token`` command that prints a fresh page link for this server."""
        words = ["voicegate", "token", "page", "--page-url"]
        defaults = ServeConfig()
        settings = {"host": self.host, "port": port, "data_dir": self.data_dir}
        settings["token_secret_file"] = self.token_secret_file
        for name, value in settings.items():
            if value is not None and value != getattr(defaults, name):
                words += ["--" + name.replace("_", "-"), str(value)]
        return " ".join(words)


def _default(setting: Setting) -> Any:
    defaults = ServeConfig()
    return getattr(defaults.voice if setting.voice else defaults, setting.name)


def _shown(value: Any) -> str:
    """A default as a user would type it."""
    if value is None:
        return "none"
    if isinstance(value, frozenset):
        return ",".join(sorted(str(item) for item in value))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "none" if not value else "set"
    if isinstance(value, tuple):
        return ("-" if all(isinstance(item, int) for item in value) else ",").join(map(str, value))
    return str(value) if value != "" else "none"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register ``--config`` and one flag per setting (defaults stay unset: precedence needs it)."""
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML file of settings (also {ENV_PREFIX}CONFIG)",
    )
    for setting in SETTINGS:
        default = _default(setting)
        help_text = f"{setting.help} (env {setting.env}; default {_shown(default)})"
        if isinstance(default, bool):
            parser.add_argument(
                setting.flag,
                dest=setting.name,
                action=argparse.BooleanOptionalAction,
                help=help_text,
            )
        else:
            parser.add_argument(setting.flag, dest=setting.name, default=None, help=help_text)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    table = data.get("serve", data)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [serve] must be a table")
    known = {setting.name for setting in SETTINGS}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
    return table


def load_config(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> ServeConfig:
    """Resolve every setting from flags, environment, the TOML file and defaults, in that order."""
    environ = os.environ if environ is None else environ
    flags = vars(args) if args is not None else {}
    config_path = flags.get("config") or environ.get(ENV_PREFIX + "CONFIG")
    from_file = _read_toml(Path(config_path)) if config_path else {}
    values: dict[str, Any] = {}
    voice: dict[str, Any] = {}
    for setting in SETTINGS:
        if flags.get(setting.name) is not None:
            raw, origin = flags[setting.name], setting.flag
        elif setting.env in environ:
            raw, origin = environ[setting.env], setting.env
        elif setting.name in from_file:
            raw, origin = from_file[setting.name], f"{config_path}: {setting.name}"
        else:
            continue
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        elif isinstance(raw, list):  # a TOML array, such as speak_channel_types
            raw = ",".join(str(item) for item in raw)
        try:
            (voice if setting.voice else values)[setting.name] = setting.parse(str(raw))
        except ValueError as exc:
            raise ConfigError(f"bad value {raw!r} for {origin}: {exc}") from None
    return ServeConfig(**values, voice=VoiceSettings(**voice))

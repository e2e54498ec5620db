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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voicegate.catalog import DEFAULT_STT_MODEL, DEFAULT_TTS_VOICE
from voicegate.core.models import ChannelType
from voicegate.errors import ConfigError
from voicegate.redis.lease import LEASE_TTL_S
from voicegate.stt.worker import PARTIAL_BUSY_LIMIT
from voicegate.voice.ai import DEFAULT_AI_URL
from voicegate.voice.hello import is_language_code
from voicegate.voice.live_settings import BARGE_IN_MS_LIMITS, END_OF_SPEECH_MS_LIMITS
from voicegate.voice.session import VoiceSettings

ENV_PREFIX = "VOICEGATE_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


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


@dataclass(frozen=True, slots=True)
class _Setting:
    name: str
    help: str
    parse: Callable[[str], Any]
    voice: bool = False
    """Whether it is a field of :class:`VoiceSettings` rather than of :class:`ServeConfig`."""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected an integer from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"expected an integer from {low} to {high}")
        return value

    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a positive number") from None
    if value <= 0:
        raise ValueError("expected a positive number")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number, 0 or more") from None
    if not value >= 0:
        raise ValueError("expected a number, 0 or more")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("expected a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise ValueError("expected a number from 0 to 1")
    return value


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false")


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return text

    return parse


def _channel_types(text: str) -> frozenset[ChannelType]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    known = {kind.value for kind in ChannelType}
    if not names or not names <= known:
        raise ValueError(f"expected channel types separated by commas, from {', '.join(known)}")
    return frozenset(ChannelType(name) for name in names)


def _language(text: str) -> str:
    if not is_language_code(text):
        raise ValueError("expected auto or a language code such as en, fr, de")
    return text


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("expected a non-empty value")
    return text


def _any_text(text: str) -> str:
    return text.strip()


def _port_range(text: str) -> tuple[int, int]:
    low, dash, high = text.partition("-")
    port = _int_in(1024, 65535)
    try:
        ports = (port(low), port(high))
    except ValueError:
        raise ValueError("expected two ports from 1024 to 65535, such as 10000-20000") from None
    if not dash or ports[0] >= ports[1]:  # an even port for RTP, the next one for RTCP
        raise ValueError("expected two ports from 1024 to 65535, such as 10000-20000")
    return ports


def _transports(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(name.strip().lower() for name in text.split(",") if name.strip()))
    if not names or not set(names) <= {"udp", "tcp"}:
        raise ValueError("expected udp, tcp or udp,tcp")
    return names


def _users(text: str) -> dict[str, str]:
    users = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        name, colon, password = entry.partition(":")
        if not colon or not name or not password:
            raise ValueError("expected user:password pairs separated by commas")
        users[name] = password
    return users


SETTINGS: tuple[_Setting, ...] = (
    _Setting("host", "address to listen on", _text),
    _Setting(
        "port", "TCP port for the page, WebSocket, WebRTC offers and metrics", _int_in(0, 65535)
    ),
    _Setting(
        "data_dir",
        "folder for the SQLite store and the token secret",
        lambda text: Path(_text(text)),
    ),
    _Setting(
        "store",
        "conversation store: sqlite (one process), postgres (shared) or memory",
        _one_of("sqlite", "postgres", "memory"),
    ),
    _Setting("postgres_url", "postgresql://user:password@host:port/db (store=postgres)", _text),
    _Setting(
        "redis_url",
        "redis://host:port/db shared by several processes: locks, realtime, room events",
        _text,
    ),
    _Setting("stt_model", "speech-to-text model id or CTranslate2 folder", _text),
    _Setting(
        "stt_device",
        "where speech recognition runs: cpu, cuda, or auto (CUDA when one is found)",
        _one_of("cpu", "cuda", "auto"),
    ),
    _Setting(
        "stt_batch",
        "most utterances recognised in one batched call (1: one at a time; 0: 1 on the CPU, "
        "8 on CUDA)",
        _int_in(0, 64),
    ),
    _Setting(
        "stt_partial_busy",
        "partial transcripts are skipped while the recogniser was busier than this share of "
        "the last 10 s (1: never skipped; the pass as a caller pauses always runs)",
        _fraction,
    ),
    _Setting("tts_voice", "Piper voice id or .onnx path", _text),
    _Setting("responder", "who answers: echo, or ai (OpenAI-compatible)", _one_of("echo", "ai")),
    _Setting("ai_url", "base URL of the OpenAI-compatible endpoint (responder=ai)", _text),
    _Setting("ai_model", "model name sent to the endpoint (responder=ai)", _text),
    _Setting("anonymous", "accept connections without a token (loopback only)", _bool),
    _Setting(
        "token_ttl", "lifetime in seconds of the page token printed at start", _positive_float
    ),
    _Setting(
        "token_secret_file",
        "file holding the secret that signs tokens (or VOICEGATE_TOKEN_SECRET, the secret "
        "itself; default: <data_dir>/token-secret, created on first use)",
        lambda text: Path(_text(text)),
    ),
    _Setting("max_sessions", "most concurrent voice sessions", _int_in(1, 10000)),
    _Setting(
        "drain_timeout",
        "seconds SIGTERM lets calls finish before closing them with 1001",
        _positive_float,
    ),
    _Setting(
        "lease_ttl",
        "seconds after its last heartbeat on Redis that a process counts as dead (redis_url):"
        " the others then remove its callers from their rooms",
        _positive_float,
    ),
    _Setting("webrtc", "serve the WebRTC offer endpoint", _bool),
    _Setting(
        "twilio",
        "take Twilio calls: Media Streams at /twilio/stream, the TwiML webhook POST /twilio/voice",
        _bool,
    ),
    _Setting(
        "twilio_auth_token",
        "the Twilio account's auth token: webhooks must carry its signature",
        _any_text,
    ),
    _Setting(
        "twilio_public_url",
        "where Twilio reaches voicegate, such as https://voice.example.com (default: Host header)",
        _any_text,
    ),
    _Setting("sip", "take SIP calls on sip_port (UDP and TCP)", _bool),
    _Setting("sip_port", "port for SIP", _int_in(0, 65535)),
    _Setting("sip_transports", "SIP transports: udp, tcp or udp,tcp", _transports),
    _Setting(
        "sip_public_address",
        "address given in SIP Contact and SDP (default: host, or the Request-URI's host)",
        _any_text,
    ),
    _Setting(
        "sip_users",
        "digest credentials user:password,... for SIP callers (better in the env or TOML file)",
        _users,
    ),
    _Setting("sip_realm", "digest realm of SIP authentication", _text),
    _Setting("sip_room_from_uri", "the Request-URI's user part names the room a call joins", _bool),
    _Setting("rtp_ports", "UDP ports: RTP (even), RTCP (next), e.g. 10000-20000", _port_range),
    _Setting("rtp_timeout", "seconds without RTP before a call is hung up", _positive_float),
    _Setting(
        "record_calls",
        "record calls into <data-dir>/recordings: every phone call (Twilio, SIP) and the"
        " WebSocket and WebRTC calls that ask (record: true in the hello or the offer)",
        _bool,
    ),
    _Setting("recording_format", "recording files: wav, or ogg (Opus)", _one_of("wav", "ogg")),
    _Setting(
        "recording_retention_days",
        "delete recordings older than this many days (0: keep them)",
        _non_negative_float,
    ),
    _Setting("vad_aggressiveness", "WebRTC VAD aggressiveness, 0-3", _int_in(0, 3), voice=True),
    _Setting(
        "speech_start_ms", "speech that starts an utterance, in ms", _int_in(0, 2000), voice=True
    ),
    _Setting(
        "end_of_speech_ms",
        "silence that ends an utterance, in ms",
        _int_in(*END_OF_SPEECH_MS_LIMITS),
        voice=True,
    ),
    _Setting(
        "preroll_ms", "audio kept from before speech starts, in ms", _int_in(0, 2000), voice=True
    ),
    _Setting(
        "max_utterance_ms",
        "longest utterance before it is cut, in ms",
        _int_in(1000, 60000),
        voice=True,
    ),
    _Setting(
        "barge_in_ms",
        "speech needed to interrupt an answer, in ms",
        _int_in(*BARGE_IN_MS_LIMITS),
        voice=True,
    ),
    _Setting(
        "partial_interval_ms",
        "new speech between partial transcripts, in ms",
        _int_in(100, 10000),
        voice=True,
    ),
    _Setting(
        "idle_timeout_ms",
        "end a session after this long without speech or answer, in ms (0: never)",
        _int_in(0, 86_400_000),
        voice=True,
    ),
    _Setting(
        "speak_channel_types",
        "channel types whose messages are spoken, separated by commas",
        _channel_types,
        voice=True,
    ),
    _Setting(
        "language",
        "language callers speak (a code such as fr), or auto: detected by a multilingual model",
        _language,
        voice=True,
    ),
)


def _default(setting: _Setting) -> Any:
    defaults = ServeConfig()
    return getattr(defaults.voice if setting.voice else defaults, setting.name)


def _shown(value: Any) -> str:
    """A default as a user would type it."""
    if value is None:
        return "none"
    if isinstance(value, frozenset):
        return ",".join(sorted(str(item) for item in value))
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

"""Configuration precedence and validation of ``voicegate serve``."""

import argparse
import dataclasses
from pathlib import Path

import pytest

from voicegate.core.models import ChannelType
from voicegate.errors import ConfigError
from voicegate.server.config import ServeConfig, add_arguments, load_config
from voicegate.server.settings_table import SETTINGS
from voicegate.voice.session import VoiceSettings


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_every_field_is_a_setting() -> None:
    serve_fields = {f.name for f in dataclasses.fields(ServeConfig)} - {"voice"}
    voice_fields = {f.name for f in dataclasses.fields(VoiceSettings)}
    assert serve_fields == {s.name for s in SETTINGS if not s.voice}
    assert voice_fields == {s.name for s in SETTINGS if s.voice}


def test_voice_defaults_are_the_dataclass_defaults() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert load_config(_parse(), environ={}).voice == VoiceSettings()
    shown = " ".join(parser.format_help().split())  # whatever the terminal width
    assert f"VOICEGATE_BARGE_IN_MS; default {VoiceSettings().barge_in_ms})" in shown
    assert "VOICEGATE_SPEAK_CHANNEL_TYPES; default ai)" in shown


def test_every_voice_setting_comes_from_flags_env_or_file(tmp_path: Path) -> None:
    toml = tmp_path / "vg.toml"
    toml.write_text(
        '[serve]\nspeak_channel_types = ["ai", "websocket"]\npreroll_ms = 250\n'
        "partial_interval_ms = 400\n"
    )
    env = {
        "VOICEGATE_CONFIG": str(toml),
        "VOICEGATE_BARGE_IN_MS": "250",
        "VOICEGATE_MAX_UTTERANCE_MS": "15000",
    }
    argv = ["--vad-aggressiveness", "3", "--speech-start-ms", "80", "--end-of-speech-ms", "500"]
    assert load_config(_parse(*argv), environ=env).voice == VoiceSettings(
        vad_aggressiveness=3,
        speech_start_ms=80,
        end_of_speech_ms=500,
        preroll_ms=250,
        max_utterance_ms=15000,
        barge_in_ms=250,
        partial_interval_ms=400,
        speak_channel_types=frozenset({ChannelType.AI, ChannelType.WEBSOCKET}),
    )


def test_defaults_without_anything() -> None:
    assert load_config(_parse(), environ={}) == ServeConfig()


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path) -> None:
    toml = tmp_path / "vg.toml"
    toml.write_text('[serve]\nport = 9001\nhost = "0.0.0.0"\nstore = "memory"\nanonymous = true\n')
    env = {"VOICEGATE_CONFIG": str(toml), "VOICEGATE_PORT": "9002", "VOICEGATE_HOST": "10.0.0.1"}
    config = load_config(_parse("--port", "9003"), environ=env)
    assert config.port == 9003  # flag
    assert config.host == "10.0.0.1"  # env over file
    assert config.store == "memory"  # file over default
    assert config.anonymous is True
    assert config.responder == "echo"  # default


def test_the_language_and_the_recognisers_device(tmp_path: Path) -> None:
    assert (ServeConfig().stt_device, VoiceSettings().language) == ("auto", "auto")
    assert VoiceSettings().stt_language is None  # auto: the recogniser chooses
    toml = tmp_path / "vg.toml"
    toml.write_text('language = "es"\nstt_batch = 4\n')
    flags = _parse("--config", str(toml), "--stt-device", "cpu")
    config = load_config(flags, environ={"VOICEGATE_STT_BATCH": "16"})
    assert (config.stt_device, config.voice.language, config.voice.stt_language) == (
        "cpu",
        "es",
        "es",
    )
    assert config.stt_batch == 16  # env over file
    with pytest.raises(ConfigError, match="--stt-batch: expected an integer from 0 to 64"):
        load_config(_parse("--stt-batch", "-1"), environ={})


def test_the_recognisers_batch_by_device_and_its_partials_under_load() -> None:
    defaults = load_config(_parse(), environ={})
    assert defaults.stt_batch == 0  # 1 on the CPU, 8 on CUDA
    assert defaults.stt_partial_busy == 0.5
    config = load_config(_parse("--stt-partial-busy", "1"), environ={})
    assert config.stt_partial_busy == 1.0  # partials never skipped
    with pytest.raises(ConfigError, match="--stt-partial-busy: expected a number from 0 to 1"):
        load_config(_parse("--stt-partial-busy", "1.5"), environ={})
    with pytest.raises(ConfigError, match="--stt-partial-busy: expected a number from 0 to 1"):
        load_config(_parse("--stt-partial-busy", "half"), environ={})


def test_boolean_flag_overrides_file(tmp_path: Path) -> None:
    toml = tmp_path / "vg.toml"
    toml.write_text("anonymous = true\n")
    config = load_config(_parse("--config", str(toml), "--no-anonymous"), environ={})
    assert config.anonymous is False


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--port", "http"], {}, "bad value 'http' for --port"),
        (["--port", "70000"], {}, "integer from 0 to 65535"),
        ([], {"VOICEGATE_STORE": "mysql"}, "expected one of sqlite, postgres, memory"),
        ([], {"VOICEGATE_ANONYMOUS": "maybe"}, "for VOICEGATE_ANONYMOUS: expected true or false"),
        (["--token-ttl", "-1"], {}, "expected a positive number"),
        (["--token-ttl", "nan"], {}, "expected a positive number"),
        ([], {"VOICEGATE_RTP_TIMEOUT": "inf"}, "expected a positive number"),
        (["--barge-in-ms", "-5"], {}, "bad value '-5' for --barge-in-ms"),
        ([], {"VOICEGATE_SPEAK_CHANNEL_TYPES": "ai,robot"}, "channel types separated by commas"),
        (["--language", "French"], {}, "expected auto or a language code such as en, fr, de"),
        ([], {"VOICEGATE_STT_DEVICE": "gpu"}, "expected one of cpu, cuda, auto"),
        (["--rtp-ports", "20000-10000"], {}, "two ports from 1024 to 65535"),
        (["--rtp-ports", "20000-20000"], {}, "two ports from 1024 to 65535"),
        (["--rtp-ports", "80-90"], {}, "two ports from 1024 to 65535"),
        (["--sip-transports", "udp,sctp"], {}, "expected udp, tcp or udp,tcp"),
        ([], {"VOICEGATE_SIP_USERS": "alice"}, "user:password pairs"),
    ],
)
def test_bad_values_name_their_origin(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_parse(*argv), environ=env)


def test_bad_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(_parse("--config", str(missing)), environ={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_parse("--config", str(broken)), environ={})
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("colour = 'blue'")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(_parse("--config", str(unknown)), environ={})


def test_the_fresh_link_command_names_only_the_settings_that_differ() -> None:
    assert ServeConfig().fresh_link_command(8765) == "voicegate token page --page-url"
    moved = ServeConfig(host="0.0.0.0", data_dir=Path("/srv/vg"))
    assert moved.fresh_link_command(9000) == (
        "voicegate token page --page-url --host 0.0.0.0 --port 9000 --data-dir /srv/vg"
    )
    assert moved.page_url("abc", 9000) == "http://0.0.0.0:9000/?token=abc"
    assert moved.page_url(None, 9000) == "http://0.0.0.0:9000/"


def test_telephony_settings(tmp_path: Path) -> None:
    toml = tmp_path / "vg.toml"
    toml.write_text('[serve]\nsip = true\nsip_transports = ["tcp"]\nrtp_ports = "30000-30010"\n')
    env = {"VOICEGATE_CONFIG": str(toml), "VOICEGATE_SIP_USERS": "alice:wonder,bob:land"}
    config = load_config(_parse("--twilio", "--rtp-timeout", "12.5"), environ=env)
    assert (config.sip, config.twilio, config.sip_transports) == (True, True, ("tcp",))
    assert config.sip_users == {"alice": "wonder", "bob": "land"}
    assert (config.rtp_ports, config.rtp_timeout) == ((30000, 30010), 12.5)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    shown = " ".join(parser.format_help().split())
    assert "VOICEGATE_RTP_PORTS; default 10000-20000)" in shown
    assert "VOICEGATE_SIP_USERS; default none)" in shown

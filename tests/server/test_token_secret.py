"""The token secret: from the environment, from a file, or kept in the data folder; and
``voicegate token``, which mints with the same secret."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from voicegate.cli import main
from voicegate.errors import ConfigError
from voicegate.server.config import ServeConfig
from voicegate.server.token_secret import (
    MIN_TOKEN_SECRET_BYTES,
    TOKEN_SECRET_ENV,
    TOKEN_SECRET_FILE_NAME,
    load_token_secret,
)
from voicegate.voice.tokens import TokenAuth

SECRET = "s" * MIN_TOKEN_SECRET_BYTES


def test_a_secret_is_kept_in_the_data_folder_with_mode_600_and_read_again(tmp_path: Path) -> None:
    config = ServeConfig(data_dir=tmp_path / "data")
    first = load_token_secret(config, environ={})
    kept = tmp_path / "data" / TOKEN_SECRET_FILE_NAME
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert len(first) >= MIN_TOKEN_SECRET_BYTES
    assert load_token_secret(config, environ={}) == first  # a restart keeps it
    assert sorted(p.name for p in kept.parent.iterdir()) == [TOKEN_SECRET_FILE_NAME]
    other = load_token_secret(ServeConfig(data_dir=tmp_path / "elsewhere"), environ={})
    assert other != first


def test_the_environment_or_a_file_gives_the_secret_but_not_both(tmp_path: Path) -> None:
    given = tmp_path / "secret"
    given.write_text(SECRET + "\n")
    from_file = ServeConfig(data_dir=tmp_path / "data", token_secret_file=given)
    assert load_token_secret(from_file, environ={}) == SECRET.encode()
    from_environment = ServeConfig(data_dir=tmp_path / "data")
    assert load_token_secret(from_environment, {TOKEN_SECRET_ENV: SECRET}) == SECRET.encode()
    assert not (tmp_path / "data").exists()  # nothing generated when a secret is given
    with pytest.raises(ConfigError, match="given twice"):
        load_token_secret(from_file, {TOKEN_SECRET_ENV: SECRET})


@pytest.mark.parametrize(
    ("environ", "file_text", "message"),
    [
        (
            {TOKEN_SECRET_ENV: "short"},
            None,
            f"has 5 bytes; it needs at least {MIN_TOKEN_SECRET_BYTES}",
        ),
        ({}, "short\n", "has 5 bytes"),
        ({}, None, "cannot read the token secret"),
    ],
    ids=["short-environment", "short-file", "missing-file"],
)
def test_a_secret_that_will_not_do_is_a_one_line_config_error(
    tmp_path: Path, environ: dict[str, str], file_text: str | None, message: str
) -> None:
    path = tmp_path / "secret"
    if file_text is not None:
        path.write_text(file_text)
    config = ServeConfig(data_dir=tmp_path / "data", token_secret_file=None if environ else path)
    with pytest.raises(ConfigError, match=message) as raised:
        load_token_secret(config, environ)
    assert "\n" not in str(raised.value)


def test_a_kept_secret_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = ServeConfig(data_dir=tmp_path)
    load_token_secret(config, environ={})
    (tmp_path / TOKEN_SECRET_FILE_NAME).chmod(0o644)
    with caplog.at_level(logging.WARNING):
        load_token_secret(config, environ={})
    assert "readable by others: chmod 600 it" in caplog.text


def test_voicegate_token_mints_with_the_servers_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_SECRET_ENV, raising=False)
    data = str(tmp_path / "data")
    assert (
        main(["token", "alice", "--room", "r1", "--room", "r2", "--ttl", "30", "--data-dir", data])
        == 0
    )
    token = capsys.readouterr().out.strip()
    secret = load_token_secret(ServeConfig(data_dir=Path(data)), environ={})
    metadata = TokenAuth(secret).verify(token)
    assert metadata is not None
    assert (metadata["subject"], metadata["rooms"]) == ("alice", ["r1", "r2"])
    assert main(["token", "admin", "--any-room", "--data-dir", data]) == 0
    admin = TokenAuth(secret).verify(capsys.readouterr().out.strip())
    assert admin is not None
    assert admin["rooms"] == "*"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--room", "r1", "--any-room"], "not both"),
        (["--ttl", "0"], "--ttl must be positive"),
        (["--token-secret-file", "/no/such/file"], "cannot read the token secret /no/such/file"),
    ],
)
def test_voicegate_token_refuses_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["token", "alice", "--data-dir", str(tmp_path), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("voicegate token: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1

"""Client JSON within limits: every failure is an InvalidJSONError, the limits are exact."""

from __future__ import annotations

import json

import pytest

from voicegate.voice.json_input import (
    MAX_JSON_DEPTH,
    MAX_JSON_INT_DIGITS,
    InvalidJSONError,
    parse_client_json,
)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_up_to_the_limit_parses_and_one_more_level_is_refused() -> None:
    assert parse_client_json(_nested(MAX_JSON_DEPTH)) == json.loads(_nested(MAX_JSON_DEPTH))
    with pytest.raises(InvalidJSONError, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        parse_client_json('{"a": ' + _nested(MAX_JSON_DEPTH) + "}")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"sdp": "[{" * 5000 + '\\"]'})
    assert parse_client_json(text) == json.loads(text)


def test_integers_up_to_the_limit_parse_and_longer_ones_are_refused() -> None:
    longest = "9" * MAX_JSON_INT_DIGITS
    assert parse_client_json(f"[{longest}, -{longest}, 1e999]") == [
        int(longest),
        -int(longest),
        float("inf"),
    ]
    with pytest.raises(InvalidJSONError, match=f"more than {MAX_JSON_INT_DIGITS} digits"):
        parse_client_json("1" + longest)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"\xff\xfe\xfd", "not UTF-8"),
        ("{oops", "Expecting property name"),
        ("", "Expecting value"),
        ("[" * 200_000, "nested deeper"),
    ],
)
def test_every_failure_is_an_invalid_json_error(text: str | bytes, message: str) -> None:
    with pytest.raises(InvalidJSONError, match=message) as caught:
        parse_client_json(text)
    assert isinstance(caught.value, ValueError)


def test_bytes_are_decoded_as_json_allows() -> None:
    assert parse_client_json('{"a": "é"}'.encode()) == {"a": "é"}
    assert parse_client_json('{"a": "é"}'.encode("utf-16")) == {"a": "é"}

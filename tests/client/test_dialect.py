"""Reading token responses: what the error says when the access token is not usable."""

from __future__ import annotations

import json

import pytest

from tokensmith.client import InvalidTokenResponse, parse_token_response


def error_for(body: dict[str, object]) -> str:
    """The message of the InvalidTokenResponse that ``body`` raises."""
    with pytest.raises(InvalidTokenResponse) as info:
        parse_token_response(json.dumps(body).encode(), now=1000.0, default_ttl=60)
    return str(info.value)


def test_an_all_null_answer_says_the_token_is_null_not_missing() -> None:
    """An answer whose fields are all null says access_token is null, and lists the fields."""
    message = error_for({"access_token": None, "token_type": None, "expires_in": None})

    assert "'access_token', but it is null" in message
    assert "no 'access_token' field" not in message
    assert "fields: access_token, expires_in, token_type" in message


def test_an_empty_token_is_called_empty() -> None:
    """An empty-string access_token is reported as empty."""
    assert "'access_token', but it is empty" in error_for({"access_token": "", "expires_in": 60})


def test_a_token_of_another_type_names_the_type() -> None:
    """A non-string access_token is reported with its JSON type."""
    assert "'access_token', but it is a number, not a string" in error_for({"access_token": 42})


def test_an_absent_token_is_called_missing() -> None:
    """An answer without the field still says there is no such field."""
    assert "no 'access_token' field (fields: expires_in)" in error_for({"expires_in": 60})

"""The vendor presets: what they require and what they send, against a fake token endpoint."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tokensmith
from tokensmith.client import (
    STANDARD,
    ConfigurationError,
    Secret,
    SourceOptions,
    TokenSource,
    gbg,
    trulioo,
)

from .conftest import FakeOAuth


def test_gbg_without_credentials_names_what_is_missing() -> None:
    """gbg() has no default client: leaving out client_id and client_secret is a TypeError
    naming both, rather than the docs' demo credentials sent unnoticed."""
    with pytest.raises(TypeError) as info:
        gbg("id-token")  # type: ignore[call-arg]

    assert "client_id" in str(info.value)
    assert "client_secret" in str(info.value)


@pytest.mark.parametrize(
    ("client_id", "client_secret", "named"),
    [("", "s3cret", "client_id"), ("me", "", "client_secret"), ("me", Secret(""), "client_secret")],
)
def test_gbg_with_an_empty_credential_is_a_configuration_error(
    client_id: str, client_secret: str | Secret, named: str
) -> None:
    """An empty client_id or client_secret (say, an unset variable) is a ConfigurationError
    naming it."""
    with pytest.raises(ConfigurationError, match=named):
        gbg("id-token", client_id=client_id, client_secret=client_secret)


def test_gbg_sends_the_credentials_given(fake: FakeOAuth) -> None:
    """gbg() posts the client_id and client_secret it was given with the id_auth grant."""
    with gbg(
        "sso-token", client_id="acme", client_secret="acme-secret", base_url=fake.url
    ) as source:
        source.token()

    (seen,) = fake.seen
    assert seen.path == "/authenticate/v1/connect/token"
    assert seen.form["grant_type"] == "id_auth"
    assert (seen.form["client_id"], seen.form["client_secret"]) == ("acme", "acme-secret")


def test_source_options_lists_every_option_of_token_source_a_preset_passes_on() -> None:
    """SourceOptions names exactly TokenSource's keyword arguments but those a preset sets
    itself (credentials and grant)."""
    parameters = inspect.signature(TokenSource.__init__).parameters
    keywords = {n for n, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}

    assert set(SourceOptions.__annotations__) == keywords - {"client_id", "client_secret", "grant"}


def test_trulioo_reads_a_standard_answer_when_told(fake: FakeOAuth) -> None:
    """trulioo() expects PascalCase, but a dialect option replaces that (no clash with the
    preset's own)."""
    with trulioo("id", "secret", base_url=fake.url, dialect=STANDARD) as source:
        token = source.token()

    assert token.access_token in fake.valid


def test_mypy_catches_a_misspelt_preset_option(tmp_path: Path) -> None:
    """A misspelt option of a preset (``backgroud=True``) is a mypy error, and the right
    spelling is not."""
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from tokensmith.client import truphone\n"
        "truphone('id', 'secret', background=True, timeout=5.0)\n"
        "truphone('id', 'secret', backgroud=True)\n"
    )

    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(Path(tokensmith.__file__).parents[1])},
        timeout=300,
    )

    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, result.stdout
    assert "snippet.py:3:" in errors[0]
    assert '"backgroud"' in errors[0]

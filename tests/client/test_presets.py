"""The vendor presets: what they require and what they send, against a fake token endpoint."""

from __future__ import annotations

import pytest

from tokensmith.client import ConfigurationError, Secret, gbg

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

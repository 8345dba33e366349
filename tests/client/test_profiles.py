"""The profile file: where `tokensmith token --profile NAME` looks for it, what it says when
the file is not there, and the format the README documents."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest

from tokensmith.client import (
    PASCAL,
    ClientCredentials,
    ConfigurationError,
    RefreshToken,
    Secret,
    load_profile,
)
from tokensmith.client._profiles import KEYS, profile_example

from ..cli_run import run_cli

README = Path(__file__).resolve().parents[2] / "README.md"


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TOKENSMITH_") and k != "XDG_CONFIG_HOME"
    }
    env.update(extra)
    return env


def test_a_missing_profile_file_is_named_with_a_profile_to_start_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the file, `token --profile acme` names the path and prints a profile acme that,
    saved there, is read back with its token URL, client id and secret variable."""
    path = tmp_path / "profiles.toml"

    result = run_cli(
        "token", "--profile", "acme", cwd=tmp_path, env=_env(TOKENSMITH_PROFILES=str(path))
    )
    head, _, example = result.stderr.partition(" such as:\n\n")
    path.write_text(example)
    monkeypatch.setenv("ACME_CLIENT_SECRET", "s3cret-from-the-environment")
    loaded = load_profile("acme", path)

    assert result.returncode == 1
    assert head == (
        f"error: no profile file at {path} (named by $TOKENSMITH_PROFILES); create it with a "
        "table per profile,"
    )
    assert example.startswith("[acme]\n")
    assert loaded["token_url"].endswith("/realms/acme/protocol/openid-connect/token")
    assert loaded["client_id"] == "my-client"
    assert isinstance(loaded["client_secret"], Secret)
    assert isinstance(loaded["grant"], ClientCredentials)
    assert "Traceback" not in result.stderr


def test_the_default_profile_file_is_under_xdg_config_home(tmp_path: Path) -> None:
    """Without $TOKENSMITH_PROFILES, the message names $XDG_CONFIG_HOME/tokensmith/profiles.toml
    and how to name another file."""
    result = run_cli(
        "token", "--profile", "acme", cwd=tmp_path, env=_env(XDG_CONFIG_HOME=str(tmp_path))
    )

    assert result.returncode == 1
    assert result.stderr.startswith(
        f"error: no profile file at {tmp_path / 'tokensmith' / 'profiles.toml'} (the default "
        "place; set $TOKENSMITH_PROFILES to name another file)"
    )


def test_a_profile_name_toml_cannot_write_bare_is_quoted() -> None:
    """A profile name with a space is a quoted TOML key, and its variable a valid name."""
    example = profile_example("my api")

    assert list(tomllib.loads(example)) == ["my api"]
    assert 'client_secret_env = "MY_API_CLIENT_SECRET"' in example


def _readme_profile_section() -> str:
    text = README.read_text()
    start = text.index("**Profiles.**")
    return text[start : text.index("Runnable programs are in", start)]


def test_the_readme_documents_every_key_of_a_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's table lists exactly the keys the printed example names, and its TOML
    example holds profiles that load."""
    section = _readme_profile_section()
    documented = re.findall(r"^\| `(\w+)` \|", section, re.M)
    example_keys = re.findall(r"^(?:# )?(\w+) = ", profile_example("x"), re.M)
    (block,) = re.findall(r"```toml\n(.*?)```", section, re.S)
    path = tmp_path / "profiles.toml"
    path.write_text(block)
    monkeypatch.setenv("TRUPHONE_SECRET", "s3cret-one")
    monkeypatch.setenv("TRULIOO_SECRET", "s3cret-two")
    loaded = {name: load_profile(name, path) for name in tomllib.loads(block)}

    assert sorted(documented) == sorted(example_keys) == sorted(KEYS)
    assert set(tomllib.loads(block)["trulioo"]) <= set(documented)
    assert isinstance(loaded["truphone"]["grant"], RefreshToken)
    assert loaded["trulioo"]["dialect"] is PASCAL


@pytest.mark.parametrize(
    ("key", "said"),
    [
        ("client_secrt_env", "unknown key 'client_secrt_env'; did you mean 'client_secret_env'?"),
        ("colour", "unknown key 'colour' (keys: token_url, client_id,"),
    ],
)
def test_an_unknown_key_is_refused_with_a_suggestion(tmp_path: Path, key: str, said: str) -> None:
    """A key the profile format does not have fails loudly: a misspelt client_secret_env would
    otherwise leave the client without its secret."""
    path = tmp_path / "profiles.toml"
    path.write_text(f'[p]\ntoken_url = "http://127.0.0.1:1/token"\nclient_id = "c"\n{key} = "X"\n')

    with pytest.raises(ConfigurationError) as raised:
        load_profile("p", path)

    assert f"profile 'p' has an {said}" in str(raised.value)

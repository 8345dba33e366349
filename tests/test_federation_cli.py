"""The command line of workload identity federation: trusting a platform issuer with a profile,
a client with no secret, its federated credentials, and ``tokensmith token --federated``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cli_run import CliRun, run_cli
from .conftest import Service
from .federation_issuer import StandInIssuer

CONDITION = 'claims["kubernetes.io"].namespace == "prod" && claims.sub.endsWith(":deployer")'


@pytest.fixture
def kubernetes() -> Iterator[StandInIssuer]:
    """A stand-in Kubernetes API server."""
    with StandInIssuer("RS256").serving() as issuer:
        yield issuer


def cli(service: Service, cwd: Path, *args: str) -> CliRun:
    """``tokensmith ARGS`` on the service's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(service.settings.to_env())
    return run_cli(*args, cwd=cwd, env=env)


def test_a_pod_workload_set_up_and_served_from_the_command_line(
    sqlite_service: Service, kubernetes: StandInIssuer, tmp_path: Path
) -> None:
    """issuer add --profile kubernetes, client create --federated-only, client federate with a
    condition: then `tokensmith token --federated file:PATH` prints an access token."""
    service = sqlite_service
    token_file = tmp_path / "token"
    token_file.write_text(
        kubernetes.mint("kubernetes", audience=service.token_url("r1"), now=service.clock())
    )
    steps = [
        ("realm", "create", "r1"),
        ("issuer", "add", "r1", kubernetes.url, "--profile", "kubernetes"),
        ("client", "create", "r1", "deployer", "--federated-only"),
        ("client", "federate", "r1", "deployer", "--issuer", kubernetes.url,
         "--condition", CONDITION, "--name", "prod"),
    ]  # fmt: skip

    done = [cli(service, tmp_path, *step) for step in steps]
    listed = cli(service, tmp_path, "client", "federations", "r1", "--json")
    issuers = cli(service, tmp_path, "issuer", "list", "r1", "--json")
    token = cli(
        service, tmp_path, "token", "--federated", f"file:{token_file}",
        "--token-url", service.token_url("r1"),
    )  # fmt: skip

    assert [d.returncode for d in done] == [0, 0, 0, 0], [d.stderr for d in done]
    assert "federated only (no secret)" in done[2].stdout
    assert json.loads(listed.stdout) == [
        {
            "client_id": "deployer",
            "name": "prod",
            "issuer": kubernetes.url,
            "subject": None,
            "condition": CONDITION,
            "created_at": json.loads(listed.stdout)[0]["created_at"],
        }
    ]
    trusted = json.loads(issuers.stdout)[0]
    assert (trusted["profile"], trusted["jwks_url"]) == (
        "kubernetes",
        f"{kubernetes.url}/openid/v1/jwks",
    )
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2


def test_a_credential_is_removed_by_name(sqlite_service: Service, tmp_path: Path) -> None:
    """client unfederate removes the named credential; removing it again is an error."""
    service = sqlite_service
    for step in (
        ("realm", "create", "r1"),
        ("issuer", "add", "r1", "--profile", "github-actions"),
        ("client", "create", "r1", "ci", "--federated-only"),
        ("client", "federate", "r1", "ci", "--issuer",
         "https://token.actions.githubusercontent.com", "--subject",
         "repo:acme/app:environment:prod"),
    ):  # fmt: skip
        assert cli(service, tmp_path, *step).returncode == 0

    removed = cli(service, tmp_path, "client", "unfederate", "r1", "ci", "github-actions-1")
    again = cli(service, tmp_path, "client", "unfederate", "r1", "ci", "github-actions-1")
    left = cli(service, tmp_path, "client", "federations", "r1", "ci")

    assert removed.returncode == 0, removed.stderr
    assert again.returncode != 0
    assert "no federated credential named 'github-actions-1'" in again.stderr
    assert left.stdout.strip() == "no federated credentials"

"""Node clients, unchanged, against the service: openid-client (v6) discovers a realm and
authenticates with private_key_jwt, whose assertions carry no kid, or with a client secret (in
the body or with HTTP Basic), and reports a wrong secret as the error it can read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tokensmith.oauth import generate_key, jwt_claims, key_to_pem, public_jwk

from .conftest import Service

NODE_DIR = Path(__file__).with_name("node")


def _installed(name: str) -> str | None:
    """The version of Node package ``name`` under tests/node/node_modules, if any."""
    manifest = NODE_DIR / "node_modules" / name / "package.json"
    if not manifest.is_file():
        return None
    version: str = json.loads(manifest.read_text())["version"]
    return version


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """tests/node with its packages installed from the lock file (npm ci, once, when one of
    package.json's dependencies is missing or at another version than it pins)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are needed for the Node interop tests")
        pytest.skip("node and npm are not installed")
    wanted = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    if any(_installed(name) != version for name, version in wanted.items()):
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=NODE_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return NODE_DIR


def test_openid_client_private_key_jwt_without_kid(
    service: Service, node_clients: Path, tmp_path: Path
) -> None:
    """openid-client with its defaults (no kid, 60 s assertions, aud = issuer, issuer checked
    against discovery) gets a token from a client registered with a kid-less JWKS."""
    key = generate_key("ES256")
    jwk = public_jwk(key, kid="unused", alg="ES256")
    del jwk["kid"]
    service.admin(lambda a: a.create_realm("r1"))
    service.admin(lambda a: a.create_client("r1", "node", scopes="read", jwks={"keys": [jwk]}))
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(key_to_pem(key))

    run = subprocess.run(
        ["node", "client_credentials.mjs", f"{service.url}/realms/r1", "node", str(key_file)],
        cwd=node_clients,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["scope"] == "read"
    assert jwt_claims(answer["access_token"])["client_id"] == "node"  # type: ignore[index]


def _client_secret(service: Service, node_clients: Path, secret: str, method: str) -> Any:
    """What node client_secret.mjs prints for realm r1's client node with ``secret``."""
    run = subprocess.run(
        ["node", "client_secret.mjs", f"{service.url}/realms/r1", "node", secret, method],
        cwd=node_clients,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture
def node_client(service: Service) -> tuple[Service, str]:
    """Realm r1 with client node (scope read) and its generated secret."""
    service.admin(lambda a: a.create_realm("r1"))
    new = service.admin(lambda a: a.create_client("r1", "node", scopes="read"))
    assert new.secret is not None
    return service, new.secret


def test_openid_client_reports_invalid_client_after_a_wrong_posted_secret(
    node_client: tuple[Service, str], node_clients: Path
) -> None:
    """A wrong client_secret_post secret gets a 401 without a challenge, which openid-client
    reports as the OAuth error invalid_client (a ResponseBodyError)."""
    service, _ = node_client

    reported = _client_secret(service, node_clients, "wrong", "post")

    assert reported == {
        "name": "ResponseBodyError",
        "code": "OAUTH_RESPONSE_BODY_ERROR",
        "status": 401,
        "error": "invalid_client",
    }


def test_openid_client_reports_the_challenge_after_a_wrong_basic_secret(
    node_client: tuple[Service, str], node_clients: Path
) -> None:
    """A wrong client_secret_basic secret gets the Basic challenge RFC 6749 §5.2 requires, which
    openid-client reports as a WWWAuthenticateChallengeError (no OAuth error code)."""
    service, _ = node_client

    reported = _client_secret(service, node_clients, "wrong", "basic")

    assert reported == {
        "name": "WWWAuthenticateChallengeError",
        "code": "OAUTH_WWW_AUTHENTICATE_CHALLENGE",
        "status": 401,
    }


@pytest.mark.parametrize("method", ["post", "basic"])
def test_openid_client_client_secret_methods(
    node_client: tuple[Service, str], node_clients: Path, method: str
) -> None:
    """openid-client gets a token with the right secret, posted or with HTTP Basic."""
    service, secret = node_client

    reported = _client_secret(service, node_clients, secret, method)

    assert reported["scope"] == "read"

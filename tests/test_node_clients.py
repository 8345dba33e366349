"""Node clients, unchanged, against the service: openid-client (v6) discovers a realm and
authenticates with private_key_jwt, whose assertions carry no kid."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tokensmith.oauth import generate_key, jwt_claims, key_to_pem, public_jwk

from .conftest import Service

NODE_DIR = Path(__file__).with_name("node")


@pytest.fixture(scope="session")
def node_clients() -> Path:
    """tests/node with its packages installed from the lock file (npm ci, once)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are needed for the Node interop tests")
        pytest.skip("node and npm are not installed")
    if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
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

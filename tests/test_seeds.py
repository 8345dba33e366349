"""The vendors' documented requests, verbatim but for the host, against `tokensmith serve --demo`,
and python-keycloak's KeycloakOpenID against the service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from keycloak import KeycloakOpenID

from tokensmith.server import ensure_demo

from .conftest import Service, run_admin

# Copies of the vendors' documents from shared/seeds, so these tests never depend on the layout.
SEEDS = Path(__file__).resolve().parent / "fixtures"
SED = 'sed \'s/.*access_token":"\\([^"]*\\).*/\\1/\''


def _bash(script: str) -> str:
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=True, timeout=30
    ).stdout


def _seed_commands(seed: str) -> list[str]:
    text = (SEEDS / seed).read_text()
    return re.findall(r"\$ (export ACCESS_TOKEN=`curl.*?`)", text, flags=re.S)


def _verify(base: str, realm: str, token: str) -> dict[str, Any]:
    jwks = httpx.get(f"{base}/realms/{realm}/protocol/openid-connect/certs").json()
    keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"], audience=realm)
    return claims


@pytest.mark.parametrize("seed", ["000_81ba31f0bb8e9dd5.txt", "001_b4ed2a84b68b87ff.txt"])
def test_truphone_curl_get_use_and_refresh_work_verbatim(demo: tuple[str, str], seed: str) -> None:
    """The Truphone and 1GLOBAL docs' curl | sed commands work with only the host replaced; the
    token verifies against the JWKS and lives exactly the realm's 300 s."""
    base, _ = demo
    get, refresh = _seed_commands(seed)
    get = get.replace("https://services.truphone.com", base)

    token = _bash(get + "\necho $ACCESS_TOKEN").strip()
    claims = _verify(base, "tru-staff", token)
    first = httpx.post(
        f"{base}/auth/realms/tru-staff/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "truphone",
            "client_secret": "xxxxxx-xxxx-43f3-9fba-85686d72c1c0",
        },
    ).json()
    # The docs' placeholder is "<your_refresh_token>k"; a user pastes their token over the
    # placeholder. The stray "k" is the docs' typo, covered by its own test.
    refresh = re.sub(r"https://services(-bit)?\.truphone\.com", base, refresh)
    refresh = refresh.replace("<your_refresh_token>k", first["refresh_token"])
    refreshed = _bash(refresh + "\necho $ACCESS_TOKEN").strip()

    assert claims["exp"] - claims["iat"] == 300
    assert claims["sub"] == "truphone"
    assert _verify(base, "tru-staff", refreshed)["client_id"] == "truphone"
    assert refreshed != token


def test_trulioo_request_works_verbatim(demo: tuple[str, str]) -> None:
    """Trulioo's documented HTTP request body gets the documented PascalCase answer; the token's
    exp - iat is the realm's 3600 s."""
    base, _ = demo
    text = (SEEDS / "003_f214cc132044ca31.txt").read_text()
    body = re.search(r"^grant_type=client_credentials.*$", text, flags=re.M)
    assert body is not None

    answer = _bash(
        "curl -s -X POST -H 'Content-Type: application/x-www-form-urlencoded' "
        f"--data '{body.group(0)}' {base}/connect/token"
    )

    parsed = httpx.Response(200, content=answer).json()
    assert list(parsed) == ["Token", "TokenType", "ExpiresIn", "scope"]
    assert parsed["TokenType"] == "bearer"
    assert parsed["scope"] == "workflow.studio.api"
    claims = _verify(base, "trulioo", parsed["Token"])
    assert claims["exp"] - claims["iat"] == parsed["ExpiresIn"] == 3600


def test_python_keycloak_gets_refreshes_discovers_and_decodes(service: Service) -> None:
    """python-keycloak's KeycloakOpenID works against a tokensmith realm unchanged."""
    run_admin(service.settings, ensure_demo)
    kc = KeycloakOpenID(
        server_url=service.url + "/auth/",
        realm_name="tru-staff",
        client_id="truphone",
        client_secret_key="xxxxxx-xxxx-43f3-9fba-85686d72c1c0",
    )

    token = kc.token(grant_type="client_credentials")
    refreshed = kc.refresh_token(token["refresh_token"])
    well_known = kc.well_known()
    certs = kc.certs()
    claims = kc.decode_token(refreshed["access_token"], validate=True)

    assert token["expires_in"] == 300
    assert refreshed["access_token"] != token["access_token"]
    assert well_known["issuer"] == f"{service.url}/realms/tru-staff"  # one issuer, either path
    assert len(certs["keys"]) == 2
    assert claims["iss"] == well_known["issuer"]
    assert claims["client_id"] == "truphone"
    assert "openid" in claims["scope"].split()


def test_demo_prints_working_commands(demo: tuple[str, str]) -> None:
    """The GBG client-credentials command printed by demo mode works as printed."""
    base, _ = demo

    answer = httpx.post(
        f"{base}/authenticate/v1/connect/token",
        data={
            "client_id": "ro.client",
            "grant_type": "client_credentials",
            "client_secret": "secret",
            "scope": "api api2",
        },
    )

    assert answer.status_code == 200
    assert answer.json()["scope"] == "api api2"


def test_demo_gbg_id_auth_with_a_demo_token(demo: tuple[str, str]) -> None:
    """`tokensmith issuer demo-token gbg` makes an id_token the demo gbg realm accepts."""
    base, workdir = demo
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    made = subprocess.run(
        [sys.executable, "-m", "tokensmith", "issuer", "demo-token", "gbg", "--sub", "alice"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    answer = httpx.post(
        f"{base}/authenticate/v1/connect/token",
        data={
            "client_id": "ro.client",
            "grant_type": "id_auth",
            "client_secret": "secret",
            "scope": "api api2",
            "id_token": made.stdout.strip(),
        },
    )

    assert made.returncode == 0, made.stderr
    assert answer.status_code == 200, answer.text
    assert _verify(base, "gbg", answer.json()["access_token"])["sub"] == "alice"

"""`tokensmith realm import` of a Keycloak realm export and `realm export` back: every field of a
hand-written Keycloak 26 export (tests/fixtures/keycloak, written from Keycloak's documentation
and representation classes) is mapped or reported, and imported clients keep working unchanged
over real HTTP: the same secret with HTTP Basic, python-keycloak's KeycloakOpenID, a signed JWT
assertion with the key Keycloak knew."""

from __future__ import annotations

import copy
import io
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx
import jwt as pyjwt
import pytest

from tokensmith.server import Settings, plan_keycloak_import
from tokensmith.server._keys import new_master_key_value

from .cli_run import CliRun, run_cli
from .serve_process import serving

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "keycloak"
EXPORT = FIXTURES / "acme-realm-export.json"
BILLING_SECRET = "Wq8nX3kLr2Tz9VbP5mYc7Hd1Gf4Js6Ae"


def export() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXPORT.read_text())
    return data


def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'kc.db'}",
        master_key=MASTER_KEY,
        poll_interval=0.1,
    )


MASTER_KEY = new_master_key_value()


def tokensmith(tmp_path: Path, *args: str, stdin: str | None = None) -> CliRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(settings(tmp_path).to_env())
    given = io.StringIO(stdin) if stdin is not None else None
    return run_cli(*args, cwd=tmp_path, env=env, stdin=given)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    done = tokensmith(tmp_path, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    return tmp_path


def test_every_client_of_the_export_is_imported_or_reported() -> None:
    """Each client of the fixture is either in the plan, with each setting Keycloak had, or
    named in the report with its reason; so is each user, role, group, flow and provider."""
    data = export()

    plan = plan_keycloak_import(data)

    clients = {c.client_id: c for c in plan.clients}
    skipped = {(s.what, s.name): s.reason for s in plan.skipped}
    assert plan.realm == "acme"
    assert plan.realm_options == {
        "access_token_ttl": 600,
        "refresh_token_ttl": 3600,
        "alg": "RS256",
    }
    assert set(clients) == {"billing", "reports-jwt", "inventory-sync", "legacy-batch"}
    billing = clients["billing"]
    assert (billing.secret, billing.enabled, billing.masked) == (BILLING_SECRET, True, False)
    assert billing.options == {
        "access_token_ttl": 900,
        "refresh_tokens": True,
        "scopes": "address email invoices.read invoices.write microprofile-jwt offline_access "
        "organization phone profile",
        "default_scopes": "email invoices.read profile",
        "audience": "https://api.acme.example",
        "extra_claims": {"tenant": "acme", "tier": 3},
    }
    reports = clients["reports-jwt"]
    assert reports.secret is None
    assert reports.authentication == "private_key_jwt"
    assert reports.options["jwks"]["keys"][0]["kid"] == "reports-2026"
    assert reports.options["refresh_tokens"] is False
    assert clients["inventory-sync"].options["jwks_url"] == (
        "https://keys.acme.example/inventory/jwks.json"
    )
    legacy = clients["legacy-batch"]
    assert (legacy.secret, legacy.masked, legacy.enabled) == (None, True, False)
    for rep in data["clients"]:
        if rep["clientId"] in clients:
            continue
        named = [k for k in skipped if k[0].startswith("client") and rep["clientId"] in k[1]]
        assert named, f"client {rep['clientId']} is neither imported nor reported"
    assert skipped[("users", "alice, bob")] == "tokensmith has no users"
    assert (
        "billing-reader, realm-management/view-users"
        in skipped[("roles of the service account of", "billing")]
    )
    assert ("realm roles", "billing-reader, ops") in skipped
    assert ("groups", "operators") in skipped
    assert ("identity providers", "corp-oidc") in skipped
    assert ("authentication flows", "browser with OTP") in skipped
    assert ("protocol mapper", "billing: department") in skipped
    assert ("protocol mapper", "billing: Client ID") in skipped
    assert "client-secret-jwt" in skipped[("client", "hmac-signer")]
    assert "public client" in skipped[("client", "web-portal")]
    assert "bearer-only" in skipped[("client", "orders-api")]
    assert "no service account" in skipped[("client", "partner-portal")]
    assert "saml" in skipped[("client", "https://sp.acme.example/saml")]
    notes = " ".join(plan.notes)
    assert "new ones" in notes
    assert "rotates them" in notes
    assert "client inventory-sync: its tokens were signed with ES256" in notes


def test_imported_clients_keep_working_unchanged(workdir: Path) -> None:
    """After the import, the Keycloak credentials work as they did: the billing secret with
    HTTP Basic (the same curl) and through python-keycloak, the reports client with an assertion
    signed by its key; the masked, disabled client is refused until enabled, then works with the
    new secret printed once."""
    from keycloak import KeycloakOpenID

    done = tokensmith(workdir, "realm", "import", str(EXPORT))
    assert done.returncode == 0, done.stderr
    new_secret = re.search(r"legacy-batch: .*new secret (\S+);", done.stdout)
    assert new_secret is not None, done.stdout

    with serving(workdir, settings(workdir)) as service:
        token_url = f"{service.url}/realms/acme/protocol/openid-connect/token"
        basic = httpx.post(
            token_url, data={"grant_type": "client_credentials"}, auth=("billing", BILLING_SECRET)
        )
        keycloak = KeycloakOpenID(
            server_url=service.url + "/",
            realm_name="acme",
            client_id="billing",
            client_secret_key=BILLING_SECRET,
        )
        via_library = keycloak.token(grant_type="client_credentials")
        refreshed = keycloak.refresh_token(via_library["refresh_token"])
        key = (FIXTURES / "reports-jwt.key.pem").read_bytes()
        now = int(time.time())
        signed = pyjwt.encode(
            {
                "iss": "reports-jwt",
                "sub": "reports-jwt",
                "aud": token_url,
                "iat": now,
                "exp": now + 60,
                "jti": f"j-{now}",
            },
            key,
            algorithm="ES256",
            headers={"kid": "reports-2026"},
        )
        assertion = httpx.post(
            token_url,
            data={
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": signed,
            },
        )
        legacy = ("legacy-batch", new_secret[1])
        disabled = httpx.post(token_url, data={"grant_type": "client_credentials"}, auth=legacy)
        assert tokensmith(workdir, "client", "enable", "acme", "legacy-batch").returncode == 0
        time.sleep(0.5)  # the service polls every 0.1 s
        enabled = httpx.post(token_url, data={"grant_type": "client_credentials"}, auth=legacy)

    assert basic.status_code == 200, basic.text
    claims = pyjwt.decode(basic.json()["access_token"], options={"verify_signature": False})
    header = pyjwt.get_unverified_header(basic.json()["access_token"])
    assert header["alg"] == "RS256"
    assert claims["aud"] == "https://api.acme.example"
    assert (claims["tenant"], claims["tier"]) == ("acme", 3)
    assert claims["scope"] == "email invoices.read profile"
    assert claims["exp"] - claims["iat"] == 900
    assert "refresh_token" in basic.json()
    assert via_library["access_token"]
    assert refreshed["access_token"]
    assert refreshed["refresh_token"] != via_library["refresh_token"]
    assert assertion.status_code == 200, assertion.text
    reports = pyjwt.decode(assertion.json()["access_token"], options={"verify_signature": False})
    assert reports["scope"] == "email profile reports.read"
    assert disabled.status_code == 401
    assert enabled.status_code == 200, enabled.text


def test_a_dry_run_writes_nothing_and_json_says_the_same(workdir: Path) -> None:
    """--dry-run prints the plan and creates no realm; --json prints it for scripts, with the
    same clients and report."""
    text = tokensmith(workdir, "realm", "import", str(EXPORT), "--dry-run")
    as_json = tokensmith(workdir, "realm", "import", str(EXPORT), "--dry-run", "--json")
    realms = tokensmith(workdir, "realm", "list", "--json")

    assert text.returncode == as_json.returncode == 0
    assert text.stdout.startswith(f"would import realm acme from {EXPORT}\n")
    assert "new secret generated on import" in text.stdout
    data = json.loads(as_json.stdout)
    assert data["dry_run"] is True
    assert [c["client_id"] for c in data["clients"]] == [
        "billing",
        "reports-jwt",
        "inventory-sync",
        "legacy-batch",
    ]
    assert all(c["new_secret"] is None for c in data["clients"])
    assert len(data["not_imported"]) == text.stdout.count("\n  ") - len(data["clients"]) - len(
        data["differences"]
    )
    assert BILLING_SECRET not in as_json.stdout + text.stdout
    assert json.loads(realms.stdout) == []


def test_an_import_is_all_or_nothing(workdir: Path) -> None:
    """A client refused half-way (two clients of one clientId) leaves no realm behind; a realm
    of the same name is refused before anything is written."""
    data = export()
    twice = copy.deepcopy(data)
    billing = next(c for c in twice["clients"] if c["clientId"] == "billing")
    twice["clients"].append(billing)
    (workdir / "twice.json").write_text(json.dumps(twice))

    failed = tokensmith(workdir, "realm", "import", "twice.json")
    after_failure = tokensmith(workdir, "realm", "list", "--json")
    first = tokensmith(workdir, "realm", "import", str(EXPORT))
    again = tokensmith(workdir, "realm", "import", str(EXPORT))
    clients = tokensmith(workdir, "client", "list", "acme", "--json")

    assert failed.returncode == 1
    assert "billing" in failed.stderr
    assert "exists" in failed.stderr
    assert json.loads(after_failure.stdout) == []
    assert first.returncode == 0
    assert again.returncode == 1
    assert "acme" in again.stderr
    assert len(json.loads(clients.stdout)) == 4


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("[]", "not a Keycloak realm export"),
        ('{"realms": []}', "not a Keycloak realm export"),
        ("{not json", "is not JSON"),
        ('{"realm": "ACME Corp"}', "cannot keep its name here"),
    ],
)
def test_what_is_no_realm_export_is_refused_in_one_line(
    workdir: Path, content: str, said: str
) -> None:
    (workdir / "export.json").write_text(content)

    done = tokensmith(workdir, "realm", "import", "export.json")

    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert said in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_a_realm_name_keycloak_allows_is_renamed_with_name(workdir: Path) -> None:
    """A Keycloak realm whose name has a space is imported under --name, read from stdin."""
    data = export()
    data["realm"] = "ACME Corp"

    done = tokensmith(
        workdir, "realm", "import", "-", "--name", "acme-corp", stdin=json.dumps(data)
    )

    assert done.returncode == 0, done.stderr
    assert "realm acme-corp (Keycloak realm ACME Corp)" in done.stdout


def test_an_export_round_trips_through_import(workdir: Path) -> None:
    """A realm written by `realm export` and read back by `realm import` has the same clients
    with the same settings (the secrets are new: the export has none); what Keycloak's format
    cannot say is named on standard error."""
    jwks = json.loads(export()["clients"][7]["attributes"]["jwks.string"])
    (workdir / "jwks.json").write_text(json.dumps(jwks))
    for args in (
        ("realm", "create", "orig", "--access-token-ttl", "120", "--token-path", "/connect/token"),
        (
            "client",
            "create",
            "orig",
            "svc",
            "--scope",
            "a b c",
            "--default-scope",
            "a",
            "--refresh-tokens",
            "--access-token-ttl",
            "60",
            "--audience",
            "https://api.example",
            "--claim",
            "tenant=acme",
        ),
        ("client", "create", "orig", "signer", "--jwks-file", "jwks.json", "--scope", "r"),
    ):
        done = tokensmith(workdir, *args)
        assert done.returncode == 0, (args, done.stderr)
    tokensmith(workdir, "client", "disable", "orig", "signer")

    written = tokensmith(workdir, "realm", "export", "orig", "--output", "orig.json")
    read = tokensmith(workdir, "realm", "import", "orig.json", "--name", "copy")
    before = json.loads(tokensmith(workdir, "client", "list", "orig", "--json").stdout)
    after = json.loads(tokensmith(workdir, "client", "list", "copy", "--json").stdout)

    assert written.returncode == 0, written.stderr
    assert written.stderr == (
        "wrote realm orig to orig.json\n"
        "note: not exported: token paths /connect/token: Keycloak has no such setting\n"
    )
    assert read.returncode == 0, read.stderr
    exported = json.loads((workdir / "orig.json").read_text())
    assert "secret" not in json.dumps(exported["clients"]).replace("client-secret", "")

    def same(client: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in client.items() if k not in ("realm", "secrets")}

    assert [same(c) for c in after] == [same(c) for c in before]
    realm = json.loads(tokensmith(workdir, "realm", "show", "copy", "--json").stdout)
    assert (realm["access_token_ttl"], realm["refresh_token_ttl"]) == (120, 1800)


def test_a_federated_only_client_is_exported_and_imported_without_a_secret(
    workdir: Path,
) -> None:
    """A client that authenticates only with a platform's token is exported with Keycloak's
    federated authenticator, so neither Keycloak nor an import gives it a secret it never had;
    its federated credentials, which Keycloak's format cannot say, are named as not exported,
    and the import says they must be added again."""
    github = "https://token.actions.githubusercontent.com"
    for args in (
        ("realm", "create", "orig"),
        ("issuer", "add", "orig", "--profile", "github-actions"),
        ("client", "create", "orig", "ci", "--federated-only", "--scope", "deploy"),
        ("client", "federate", "orig", "ci", "--issuer", github, "--name", "main",
         "--subject", "repo:acme/app:ref:refs/heads/main"),
        ("client", "create", "orig", "svc", "--scope", "read"),
    ):  # fmt: skip
        done = tokensmith(workdir, *args)
        assert done.returncode == 0, (args, done.stderr)

    written = tokensmith(workdir, "realm", "export", "orig", "--output", "orig.json")
    exported = json.loads((workdir / "orig.json").read_text())
    read = tokensmith(workdir, "realm", "import", "orig.json", "--name", "copy", "--json")
    copied = json.loads(tokensmith(workdir, "client", "list", "copy", "--json").stdout)

    assert written.returncode == 0, written.stderr
    assert f"client ci's federated credentials main ({github})" in written.stderr
    authenticators = {c["clientId"]: c["clientAuthenticatorType"] for c in exported["clients"]}
    assert authenticators == {"ci": "federated-jwt", "svc": "client-secret"}
    assert read.returncode == 0, read.stderr
    report = json.loads(read.stdout)
    made = {c["client_id"]: c for c in report["clients"]}
    assert made["ci"]["authentication"] == "federated"
    assert made["ci"]["new_secret"] is None
    assert made["svc"]["new_secret"]
    assert [(s["what"], s["name"]) for s in report["not_imported"]] == [
        ("client ci's federated credential", "none named in the export")
    ]
    secrets = {c["client_id"]: c["secrets"] for c in copied}
    assert secrets["ci"] == []
    assert len(secrets["svc"]) == 1

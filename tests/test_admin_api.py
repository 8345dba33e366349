"""The admin REST API over real HTTP against `tokensmith serve`: python-keycloak's KeycloakAdmin
works unchanged with an admin client of the master realm; nothing is reachable without a master
realm token with the admin scope; bodies are validated with clear 400s; no secret is ever read
back."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.server import Settings
from tokensmith.server._keys import new_master_key_value

from .cli_run import CliRun, run_cli
from .serve_process import Serving, serving

MASTER_KEY = new_master_key_value()


def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'admin.db'}",
        master_key=MASTER_KEY,
        poll_interval=0.1,
    )


def tokensmith(tmp_path: Path, *args: str) -> CliRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(settings(tmp_path).to_env())
    return run_cli(*args, cwd=tmp_path, env=env)


@dataclass
class Admin:
    service: Serving
    secret: str
    read_only_secret: str
    workdir: Path

    def token(self, client_id: str = "ops", secret: str | None = None) -> str:
        answer = httpx.post(
            f"{self.service.url}/realms/master/protocol/openid-connect/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, secret or self.secret),
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"authorization": f"Bearer {token or self.token()}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.service.url + path, headers=headers, **kwargs)


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    """A served database with realm acme, an admin client `ops` and a read-only one `auditor`."""
    assert tokensmith(tmp_path, "db", "upgrade").returncode == 0
    assert tokensmith(tmp_path, "realm", "create", "acme").returncode == 0
    ops = tokensmith(tmp_path, "admin", "create-client", "ops", "--json")
    auditor = tokensmith(tmp_path, "admin", "create-client", "auditor", "--read-only", "--json")
    assert ops.returncode == auditor.returncode == 0, ops.stderr + auditor.stderr
    with serving(tmp_path, settings(tmp_path)) as service:
        yield Admin(
            service,
            json.loads(ops.stdout)["client_secret"],
            json.loads(auditor.stdout)["client_secret"],
            tmp_path,
        )


def client_token(admin: Admin, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        f"{admin.service.url}/realms/acme/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )


def test_keycloak_admin_works_unchanged(admin: Admin) -> None:
    """python-keycloak's KeycloakAdmin, connected with the master realm's admin client by client
    credentials, creates a client, finds it by clientId, regenerates its secret (which then gets
    tokens, the first one no longer), lists the clients and deletes it."""
    from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

    connection = KeycloakOpenIDConnection(
        server_url=admin.service.url + "/",
        realm_name="acme",
        user_realm_name="master",
        client_id="ops",
        client_secret_key=admin.secret,
    )
    keycloak = KeycloakAdmin(connection=connection)

    made = keycloak.create_client(
        {
            "clientId": "billing",
            "serviceAccountsEnabled": True,
            "publicClient": False,
            "defaultClientScopes": ["invoices.read"],
            "attributes": {"access.token.lifespan": "120"},
        }
    )
    found = keycloak.get_client_id("billing")
    first = keycloak.generate_client_secrets(made)["value"]
    shown = keycloak.get_client_secrets(made)
    second = keycloak.generate_client_secrets(made)["value"]
    with_first = client_token(admin, "billing", first)
    with_second = client_token(admin, "billing", second)
    listed = [c["clientId"] for c in keycloak.get_clients()]
    keycloak.delete_client(made)
    after = [c["clientId"] for c in keycloak.get_clients()]

    assert found == made
    assert shown == {"type": "secret", "value": "**********"}
    assert with_first.status_code == 401
    assert with_second.status_code == 200, with_second.text
    claims = with_second.json()
    assert (claims["scope"], claims["expires_in"]) == ("invoices.read", 120)
    assert listed == ["billing"]
    assert after == []


def test_nothing_is_reachable_without_a_master_admin_token(admin: Admin) -> None:
    """No token, a malformed one, a token of another realm or of a master client without the
    admin scope: 401 (or 403 for the scope) with a Bearer challenge; a read-only admin reads but
    changes nothing."""
    assert tokensmith(admin.workdir, "client", "create", "acme", "app", "--json").returncode == 0
    app = json.loads(tokensmith(admin.workdir, "client", "show", "acme", "app", "--json").stdout)
    assert app["client_id"] == "app"
    secret = json.loads(
        tokensmith(admin.workdir, "client", "rotate-secret", "acme", "app", "--json").stdout
    )["client_secret"]
    foreign = client_token(admin, "app", secret).json()["access_token"]
    made = tokensmith(admin.workdir, "client", "create", "master", "plain", "--json")
    plain = admin.token("plain", json.loads(made.stdout)["client_secret"])
    reader = admin.token("auditor", admin.read_only_secret)
    url = admin.service.url + "/admin/realms/acme/clients"

    bare = httpx.get(url)
    junk = httpx.get(url, headers={"authorization": "Bearer not-a-token"})
    other_realm = httpx.get(url, headers={"authorization": f"Bearer {foreign}"})
    no_scope = httpx.get(url, headers={"authorization": f"Bearer {plain}"})
    read = httpx.get(url, headers={"authorization": f"Bearer {reader}"})
    write = httpx.post(url, headers={"authorization": f"Bearer {reader}"}, json={"clientId": "x"})

    assert bare.status_code == 401
    assert bare.headers["www-authenticate"] == 'Bearer realm="master"'
    for refused in (junk, other_realm):
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert no_scope.status_code == 403
    assert read.status_code == 200
    assert [c["clientId"] for c in read.json()] == ["app"]
    assert write.status_code == 403
    assert write.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in write.headers["www-authenticate"]


def test_a_disabled_admin_client_loses_access_within_the_poll_interval(admin: Admin) -> None:
    token = admin.token()
    before = admin.call("GET", "/admin/realms", token)
    assert tokensmith(admin.workdir, "client", "disable", "master", "ops").returncode == 0
    time.sleep(0.5)  # the service polls every 0.1 s
    after = admin.call("GET", "/admin/realms", token)

    assert before.status_code == 200
    assert [r["realm"] for r in before.json()] == ["acme", "master"]
    assert after.status_code == 401


BAD_BODIES = [
    (b"{not json", 400, "the body is not JSON"),
    (b"[]", 400, "JSON object"),
    (b'{"enabled": true}', 400, "clientId is missing"),
    (b'{"clientId": "web", "publicClient": true}', 400, "public client"),
    (b'{"clientId": "web", "serviceAccountsEnabled": false}', 400, "no service account"),
    (b'{"clientId": "bad id!"}', 400, "client id"),
    (b'{"clientId": "svc", "secret": "**********"}', 400, "masked placeholder"),
    (b'{"clientId": 7}', 400, "Expected `str`, got `int` - at `$.clientId`"),
    (b'{"clientId": "svc", "defaultClientScopes": "read"}', 400, "at `$.defaultClientScopes`"),
    (b'{"clientId": "svc", "enabled": "yes"}', 400, "at `$.enabled`"),
    (
        b'{"clientId": "svc", "protocolMappers": [{"name": "m", "protocolMapper": "x"}]}',
        400,
        "no tokensmith equivalent",
    ),
]


def test_bodies_are_validated_with_clear_errors(admin: Admin) -> None:
    """Each malformed or unservable ClientRepresentation gets a 400 saying why; none creates a
    client."""
    token = admin.token()
    for body, status, said in BAD_BODIES:
        answer = admin.call(
            "POST",
            "/admin/realms/acme/clients",
            token,
            content=body,
            headers={"content-type": "application/json"},
        )

        assert answer.status_code == status, (body, answer.text)
        assert said in answer.json()["errorMessage"], body
    assert admin.call("GET", "/admin/realms/acme/clients", token).json() == []


def test_conflicts_missing_things_and_wrong_methods(admin: Admin) -> None:
    token = admin.token()
    first = admin.call("POST", "/admin/realms/acme/clients", token, json={"clientId": "svc"})
    again = admin.call("POST", "/admin/realms/acme/clients", token, json={"clientId": "svc"})
    no_realm = admin.call("GET", "/admin/realms/nowhere/clients", token)
    no_client = admin.call("GET", "/admin/realms/acme/clients/999999", token)
    no_path = admin.call("GET", "/admin/realms/acme/users", token)
    wrong = admin.call("PATCH", "/admin/realms/acme/clients", token)
    legacy = admin.call("GET", "/auth/admin/realms/acme/clients", token)
    master = admin.call("DELETE", "/admin/realms/master", token)

    assert first.status_code == 201
    assert first.headers["location"].endswith(f"/admin/realms/acme/clients/{first.json()['id']}")
    assert len(first.json()["secret"]) == 43  # generated, shown in this answer only
    assert again.status_code == 409
    assert no_realm.status_code == no_client.status_code == no_path.status_code == 404
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, POST"
    assert [c["clientId"] for c in legacy.json()] == ["svc"]
    assert "secret" not in legacy.json()[0]
    assert master.status_code == 400


def test_put_changes_a_client_as_keycloak_does(admin: Admin) -> None:
    """PUT replaces what it names (attributes merge key by key): enabled, the access-token
    lifetime and the scopes take effect for the next token; what would change the client's
    identity or credentials is refused with a 400 saying what to do instead."""
    token = admin.token()
    made = admin.call(
        "POST",
        "/admin/realms/acme/clients",
        token,
        json={"clientId": "svc", "defaultClientScopes": ["read"]},
    )
    path = f"/admin/realms/acme/clients/{made.json()['id']}"
    secret = made.json()["secret"]
    rep = admin.call("GET", path, token).json()

    off = admin.call("PUT", path, token, json={**rep, "enabled": False})
    time.sleep(0.5)
    refused = client_token(admin, "svc", secret)
    on = admin.call("PUT", path, token, json={"enabled": True})
    changed = admin.call(
        "PUT",
        path,
        token,
        json={
            "attributes": {"access.token.lifespan": "9"},
            "defaultClientScopes": ["read"],
            "optionalClientScopes": ["write"],
        },
    )
    time.sleep(0.5)
    accepted = client_token(admin, "svc", secret)
    narrow = httpx.post(
        f"{admin.service.url}/realms/acme/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "scope": "write"},
        auth=("svc", secret),
    )
    after = admin.call("GET", path, token).json()
    renamed = admin.call("PUT", path, token, json={"clientId": "other"})
    secret_set = admin.call("PUT", path, token, json={"secret": "chosen-by-me"})
    to_keys = admin.call(
        "PUT",
        path,
        token,
        json={
            "clientAuthenticatorType": "client-jwt",
            "attributes": {"jwks.url": "https://keys.example.com/jwks"},
        },
    )
    wrong_type = admin.call("PUT", path, token, json={"attributes": []})

    assert off.status_code == on.status_code == changed.status_code == 204, changed.text
    log = admin.service.output()
    assert "event=client_disabled realm=acme client_id=svc via=admin-api by=ops" in log
    assert "event=client_enabled realm=acme client_id=svc via=admin-api by=ops" in log
    assert "event=client_updated realm=acme client_id=svc via=admin-api by=ops" in log
    assert secret not in log
    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert (accepted.json()["expires_in"], accepted.json()["scope"]) == (9, "read")
    assert narrow.json()["scope"] == "write"
    assert after["attributes"]["access.token.lifespan"] == "9"
    assert (after["defaultClientScopes"], after["optionalClientScopes"]) == (["read"], ["write"])
    assert renamed.status_code == secret_set.status_code == to_keys.status_code == 400
    assert "clientId cannot be changed" in renamed.json()["errorMessage"]
    assert "client-secret" in secret_set.json()["errorMessage"]
    assert "cannot change" in to_keys.json()["errorMessage"]
    assert "$.attributes" in wrong_type.json()["errorMessage"]


def test_a_clients_grants_are_listed_and_read_only(admin: Admin) -> None:
    """grantTypes names the grants a client may use, its extension grants included; a GET-PUT
    round trip keeps them, and a create or an update naming other extension grants is a 400."""
    made = tokensmith(
        admin.workdir, "client", "create", "acme", "sso", "--grant", "id_auth", "--refresh-tokens"
    )
    assert made.returncode == 0, made.stderr
    token = admin.token()
    [sso] = admin.call("GET", "/admin/realms/acme/clients?clientId=sso", token).json()
    path = f"/admin/realms/acme/clients/{sso['id']}"

    round_trip = admin.call("PUT", path, token, json=sso)
    dropped = admin.call("PUT", path, token, json={**sso, "grantTypes": ["client_credentials"]})
    created = admin.call(
        "POST",
        "/admin/realms/acme/clients",
        token,
        json={"clientId": "exchanger", "grantTypes": ["client_credentials", "token-exchange"]},
    )

    assert sso["grantTypes"] == ["client_credentials", "refresh_token", "id_auth"]
    assert round_trip.status_code == 204, round_trip.text
    assert dropped.status_code == created.status_code == 400
    assert "grantTypes is read-only" in dropped.json()["errorMessage"]
    assert "--grant" in created.json()["errorMessage"]


def test_put_changes_a_realms_token_lifetimes(admin: Admin) -> None:
    token = admin.token()
    before = admin.call("GET", "/admin/realms/acme", token).json()
    changed = admin.call(
        "PUT",
        "/admin/realms/acme",
        token,
        json={**before, "accessTokenLifespan": 120, "ssoSessionIdleTimeout": 900},
    )
    after = admin.call("GET", "/admin/realms/acme", token).json()
    renamed = admin.call("PUT", "/admin/realms/acme", token, json={"realm": "other"})
    algorithm = admin.call(
        "PUT", "/admin/realms/acme", token, json={"defaultSignatureAlgorithm": "RS256"}
    )
    too_long = admin.call("PUT", "/admin/realms/acme", token, json={"accessTokenLifespan": 0})
    not_number = admin.call("PUT", "/admin/realms/acme", token, json={"accessTokenLifespan": "600"})
    read_only = admin.call(
        "PUT",
        "/admin/realms/acme",
        admin.token("auditor", admin.read_only_secret),
        json={"accessTokenLifespan": 60},
    )

    assert changed.status_code == 204, changed.text
    assert (after["accessTokenLifespan"], after["ssoSessionIdleTimeout"]) == (120, 900)
    assert renamed.status_code == algorithm.status_code == too_long.status_code == 400
    assert "renamed" in renamed.json()["errorMessage"]
    assert "defaultSignatureAlgorithm cannot" in algorithm.json()["errorMessage"]
    assert "between 1 and" in too_long.json()["errorMessage"]
    assert not_number.status_code == 400
    assert "$.accessTokenLifespan" in not_number.json()["errorMessage"]
    assert read_only.status_code == 403
    assert "event=realm_updated realm=acme" in admin.service.output()


def test_trusted_issuers(admin: Admin) -> None:
    """Trust an issuer, read it back (never a private key), refuse a duplicate and a bad URL,
    and stop trusting it."""
    token = admin.token()
    base = "/admin/realms/acme/trusted-issuers"
    jwks = {"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "BBBB", "kid": "k1"}]}
    made = admin.call(
        "POST",
        base,
        token,
        json={"issuer": "https://sso.example.com", "jwks": jwks, "audiences": ["api"]},
    )
    by_url = admin.call(
        "POST",
        base,
        token,
        json={"issuer": "https://login.example.org/t1", "jwksUrl": "https://login.example.org/k"},
    )
    again = admin.call("POST", base, token, json={"issuer": "https://sso.example.com"})
    bad = admin.call("POST", base, token, json={"issuer": "ftp://x"})
    missing = admin.call("POST", base, token, json={"jwksUrl": "https://x.example/k"})
    listed = admin.call("GET", base, token).json()
    one = admin.call("GET", made.headers["location"].split(admin.service.url)[-1], token)
    gone = admin.call("DELETE", f"{base}/{made.json()['id']}", token)
    after = admin.call("GET", base, token).json()

    assert made.status_code == by_url.status_code == 201, made.text
    assert made.json()["jwks"] == jwks
    assert (made.json()["audiences"], made.json()["maxAge"]) == (["api"], 3600)
    assert by_url.json()["jwksUrl"] == "https://login.example.org/k"
    assert again.status_code == 409
    assert bad.status_code == 400
    assert "http(s) URL" in bad.json()["errorMessage"]
    assert missing.status_code == 400
    assert "issuer" in missing.json()["errorMessage"]
    assert [t["issuer"] for t in listed] == [
        "https://login.example.org/t1",
        "https://sso.example.com",
    ]
    assert one.json() == made.json()
    assert gone.status_code == 204
    assert [t["issuer"] for t in after] == ["https://login.example.org/t1"]
    assert all("private" not in json.dumps(t).lower() for t in listed)


def test_federated_credentials(admin: Admin) -> None:
    """Trust a GitHub Actions issuer with its profile's defaults, give a client a federated
    credential, read it back, refuse a condition that does not compile, and remove it."""
    token = admin.token()
    github = "https://token.actions.githubusercontent.com"
    trusted = admin.call(
        "POST",
        "/admin/realms/acme/trusted-issuers",
        token,
        json={"issuer": github, "profile": "github-actions"},
    )
    made = admin.call("POST", "/admin/realms/acme/clients", token, json={"clientId": "ci"})
    base = made.headers["location"].split(admin.service.url)[-1] + "/federated-credentials"
    condition = 'claims.repository == "acme/app" && claims.ref == "refs/heads/main"'
    added = admin.call(
        "POST", base, token, json={"issuer": github, "condition": condition, "name": "main"}
    )
    broken = admin.call("POST", base, token, json={"issuer": github, "condition": "claims.("})
    listed = admin.call("GET", base, token).json()
    gone = admin.call("DELETE", f"{base}/main", token)
    again = admin.call("DELETE", f"{base}/main", token)

    assert trusted.status_code == 201, trusted.text
    assert (trusted.json()["profile"], trusted.json()["algorithms"]) == (
        "github-actions",
        ["RS256"],
    )
    assert added.status_code == 201, added.text
    assert broken.status_code == 400
    assert "does not compile" in broken.json()["errorMessage"]
    assert [(c["name"], c["issuer"], c["condition"]) for c in listed] == [
        ("main", github, condition)
    ]
    assert (gone.status_code, again.status_code) == (204, 404)


def test_a_federated_only_client_is_made_with_keycloaks_federated_authenticator(
    admin: Admin,
) -> None:
    """clientAuthenticatorType federated-jwt makes a client with no secret and no keys (it
    authenticates with a platform's token only); the representation reads back the same and
    can be PUT back unchanged, and a PUT cannot turn a client with a secret into one."""
    token = admin.token()
    rep = {"clientId": "ci", "clientAuthenticatorType": "federated-jwt"}
    made = admin.call("POST", "/admin/realms/acme/clients", token, json=rep)
    path = made.headers["location"].split(admin.service.url)[-1]
    read = admin.call("GET", path, token).json()
    secret = admin.call("GET", f"{path}/client-secret", token)
    put_back = admin.call("PUT", path, token, json={**read, "description": "deploys"})
    other = admin.call("POST", "/admin/realms/acme/clients", token, json={"clientId": "svc"})
    other_path = other.headers["location"].split(admin.service.url)[-1]
    switched = admin.call("PUT", other_path, token, json={"clientAuthenticatorType": rep[
        "clientAuthenticatorType"]})  # fmt: skip
    with_secret = admin.call(
        "POST", "/admin/realms/acme/clients", token, json={**rep, "clientId": "ci2", "secret": "s"}
    )
    keycloaks_naming = admin.call(
        "POST",
        "/admin/realms/acme/clients",
        token,
        json={**rep, "clientId": "ci3", "attributes": {"jwt.credential.sub": "repo:acme/app"}},
    )

    assert made.status_code == 201, made.text
    assert "secret" not in made.json()
    assert read["clientAuthenticatorType"] == "federated-jwt"
    assert secret.status_code == 400
    assert "platform's token (federated-jwt)" in secret.text
    assert put_back.status_code == 204, put_back.text
    assert with_secret.status_code == keycloaks_naming.status_code == 400
    assert "leave out secret" in with_secret.json()["errorMessage"]
    assert "leave out jwt.credential.sub" in keycloaks_naming.json()["errorMessage"]
    assert "federated-credentials" in keycloaks_naming.json()["errorMessage"]
    assert switched.status_code == 400
    assert "created" in switched.json()["errorMessage"]
    assert admin.call("GET", other_path, token).json()["clientAuthenticatorType"] == (
        "client-secret"
    )


def test_realms_and_keys(admin: Admin) -> None:
    """Create, read and delete a realm; read its keys in Keycloak's shape and rotate them."""
    token = admin.token()
    created = admin.call(
        "POST",
        "/admin/realms",
        token,
        json={"realm": "beta", "accessTokenLifespan": 600, "defaultSignatureAlgorithm": "RS256"},
    )
    realm = admin.call("GET", "/admin/realms/beta", token).json()
    keys = admin.call("GET", "/admin/realms/beta/keys", token).json()
    rotated = admin.call("POST", "/admin/realms/beta/keys/rotate", token).json()
    deleted = admin.call("DELETE", "/admin/realms/beta", token)
    gone = admin.call("GET", "/admin/realms/beta", token)

    assert created.status_code == 201
    assert created.headers["location"].endswith("/admin/realms/beta")
    assert (realm["accessTokenLifespan"], realm["defaultSignatureAlgorithm"]) == (600, "RS256")
    assert [k["status"] for k in keys["keys"]].count("ACTIVE") == 1
    assert keys["active"]["RS256"] != rotated["active"]["RS256"]
    assert rotated["active"]["RS256"] in [k["kid"] for k in keys["keys"]]  # next became current
    assert deleted.status_code == 204
    assert gone.status_code == 404


def test_failing_tokens_are_rate_limited_per_address_and_no_cors(tmp_path: Path) -> None:
    """Requests with a token that fails count against the master realm's address limit (the
    token endpoint's): past it, 429 with Retry-After even for a good token from that address.
    The admin API sends no CORS headers: no web page of another origin may call it."""
    assert tokensmith(tmp_path, "db", "upgrade").returncode == 0
    made = tokensmith(tmp_path, "admin", "create-client", "ops", "--json")
    secret = json.loads(made.stdout)["client_secret"]
    limited = dataclasses.replace(settings(tmp_path), address_auth_limit="3/minute")
    with serving(tmp_path, limited) as service:
        good = httpx.post(
            f"{service.url}/realms/master/protocol/openid-connect/token",
            data={"grant_type": "client_credentials"},
            auth=("ops", secret),
        ).json()["access_token"]
        bearer = {"authorization": f"Bearer {good}"}
        before = httpx.get(f"{service.url}/admin/realms", headers=bearer)
        forged = [
            httpx.get(f"{service.url}/admin/realms", headers={"authorization": f"Bearer {t}"})
            for t in ("x", "y.z", good[:-4] + "AAAA", good[:-8] + "AAAAAAAA")
        ]
        after = httpx.get(f"{service.url}/admin/realms", headers=bearer)
        origin = {"origin": "https://evil.example"}
        preflight = httpx.request(
            "OPTIONS",
            f"{service.url}/admin/realms",
            headers={**origin, "access-control-request-method": "GET"},
        )
        cross = httpx.get(f"{service.url}/admin/realms", headers={**bearer, **origin})
        log = service.output()

    assert before.status_code == 200
    assert [f.status_code for f in forged] == [401, 401, 401, 429]
    assert after.status_code == 429
    assert int(after.headers["retry-after"]) > 0
    assert after.json()["error"] == "slow_down"
    assert "event=rate_limited realm=master" in log
    assert good not in log
    assert preflight.status_code == 401  # no token: nothing to preflight
    assert all(
        not k.lower().startswith("access-control-")
        for answer in (preflight, cross)
        for k in answer.headers
    )


@pytest.mark.parametrize(
    "query",
    [
        "gracePeriod=",
        "gracePeriod=abc",
        "gracePeriod=%C2%B2",
        "gracePeriod=1&gracePeriod=2",
        "gracePeriod=-1",
        "gracePeriod=99999999999",
        "gracePeriod=40000000",
    ],
)
def test_a_bad_grace_period_is_a_400_and_changes_nothing(admin: Admin, query: str) -> None:
    token = admin.token()
    made = admin.call("POST", "/admin/realms/acme/clients", token, json={"clientId": "svc"})
    path = f"/admin/realms/acme/clients/{made.json()['id']}/client-secret?{query}"

    answer = admin.call("POST", path, token)

    assert answer.status_code == 400, answer.text
    assert "grace" in answer.json()["errorMessage"]
    assert client_token(admin, "svc", made.json()["secret"]).status_code == 200


def test_put_moves_a_client_jwt_clients_keys_to_the_source_it_names(admin: Admin) -> None:
    """Naming a JWKS URL drops the inline JWKS (and the other way round): the keys the request
    names are the ones trusted, never the old ones silently kept."""
    from joserfc.jwk import ECKey

    token = admin.token()
    jwks = json.dumps({"keys": [ECKey.generate_key("P-256").as_dict(private=False)]})
    made = admin.call(
        "POST",
        "/admin/realms/acme/clients",
        token,
        json={
            "clientId": "signer",
            "clientAuthenticatorType": "client-jwt",
            "attributes": {"use.jwks.string": "true", "jwks.string": jwks},
        },
    )
    path = f"/admin/realms/acme/clients/{made.json()['id']}"
    moved = admin.call(
        "PUT",
        path,
        token,
        json={"attributes": {"use.jwks.url": "true", "jwks.url": "https://keys.example.com/j"}},
    )
    after = admin.call("GET", path, token).json()["attributes"]
    back = admin.call(
        "PUT", path, token, json={"attributes": {"use.jwks.string": "true", "jwks.string": jwks}}
    )
    again = admin.call("GET", path, token).json()["attributes"]

    assert made.status_code == 201, made.text
    assert moved.status_code == back.status_code == 204, moved.text
    assert after["jwks.url"] == "https://keys.example.com/j"
    assert "jwks.string" not in after
    assert json.loads(again["jwks.string"]) == json.loads(jwks)
    assert "jwks.url" not in again


def test_an_admin_client_cannot_take_its_own_admin_scope(admin: Admin) -> None:
    token = admin.token()
    ops = admin.call("GET", "/admin/realms/master/clients?clientId=ops", token).json()[0]
    path = f"/admin/realms/master/clients/{ops['id']}"

    demoted = admin.call("PUT", path, token, json={"defaultClientScopes": ["admin.read"]})
    kept = admin.call("PUT", path, token, json={"defaultClientScopes": ["admin"]})

    assert demoted.status_code == 400
    assert "cannot take the admin scope from itself" in demoted.json()["errorMessage"]
    assert kept.status_code == 204, kept.text
    assert admin.call("GET", "/admin/realms", admin.token()).status_code == 200

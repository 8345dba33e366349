"""The scripted session whose traces an operator reads (tests/test_event_log.py) and counts
(tests/test_metrics.py): admin changes with the CLI, then over HTTP tokens issued, failed
logins of each kind, a refresh-token reuse and a rate-limit refusal."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tokensmith.server import Settings

from .cli_run import run_cli

REALM = "acme"
ADDRESS_LIMIT = 4
"""Failures the realm allows one address: the session fails exactly this often, then is
refused once."""
HOSTILE_ID = "intruder\n" + "x" * 300
"""An unauthenticated client id as an attacker sends it: a line break, and far too long."""
CC_TOKENS = 4
"""client_credentials tokens issued, each on a connection of its own (so that they spread over
the workers)."""
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class Session:
    """What the session did: every secret, token and assertion it handled (none may appear in
    any log or metric), and what the CLI wrote to standard error."""

    secret: str = ""
    disabled_secret: str = ""
    confidential: list[str] = field(default_factory=list)
    cli_stderr: list[str] = field(default_factory=list)


def administer(tmp_path: Path, settings: Settings, env: dict[str, str] | None = None) -> Session:
    """Create realm ``acme`` (its address limit :data:`ADDRESS_LIMIT` an hour), client ``svc``
    (with refresh tokens; its secret rotated once), client ``other`` (disabled), and rotate the
    realm's keys, each with the CLI; the session so far."""
    session = Session(confidential=[str(settings.master_key)])
    cli_env = {**settings.to_env(), **(env or {})}

    def cli(*args: str) -> str:
        done = run_cli(*args, cwd=tmp_path, env=cli_env)
        assert done.returncode == 0, done.stderr
        session.cli_stderr.append(done.stderr)
        return done.stdout

    cli("realm", "create", REALM, "--address-auth-limit", f"{ADDRESS_LIMIT}/hour")
    first = _secret(cli("client", "create", REALM, "svc", "--refresh-tokens"))
    session.secret = _secret(cli("client", "rotate-secret", REALM, "svc"))
    session.disabled_secret = _secret(cli("client", "create", REALM, "other"))
    cli("client", "disable", REALM, "other")
    cli("key", "rotate", REALM)
    session.confidential += [first, session.secret, session.disabled_secret]
    return session


def _secret(stdout: str) -> str:
    found = re.search(r"client_secret: (\S+)", stdout)
    assert found is not None, stdout
    return found.group(1)


def run(base_url: str, session: Session) -> None:
    """Over HTTP: :data:`CC_TOKENS` client_credentials tokens, two refreshes, the reuse of the
    first refresh token (its family is revoked), one failed login of each reason (wrong secret,
    unknown and hostile client id, disabled client, unverifiable assertion), and the attempt the
    address limit then refuses. The failures go over one connection, so that with ``--workers
    N`` and per-process limits one worker counts them all."""
    token_url = f"{base_url}/realms/{REALM}/protocol/openid-connect/token"
    basic = ("svc", session.secret)
    cc = {"grant_type": "client_credentials"}
    seen = session.confidential
    for _ in range(CC_TOKENS):
        with httpx.Client(timeout=10) as fresh:  # a new connection: any worker may take it
            issued = fresh.post(token_url, data=cc, auth=basic)
            assert issued.status_code == 200, issued.text
            seen += [issued.json()["access_token"], issued.json()["refresh_token"]]
    first = issued.json()["refresh_token"]
    with httpx.Client(timeout=10) as c:
        second = _refresh(c, token_url, basic, first)
        third = _refresh(c, token_url, basic, second)
        seen += [second, third]
        reused = c.post(
            token_url, data={"grant_type": "refresh_token", "refresh_token": first}, auth=basic
        )
        assert reused.json()["error"] == "invalid_grant", reused.text

        assertion = fake_assertion("svc", token_url)
        seen.append(assertion)
        failures = [
            c.post(token_url, data=cc, auth=("svc", "not-the-secret-0123456789")),
            c.post(token_url, data={**cc, "client_id": HOSTILE_ID, "client_secret": "guess"}),
            c.post(token_url, data=cc, auth=("other", session.disabled_secret)),
            c.post(
                token_url,
                data={**cc, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
            ),
        ]
        assert [r.status_code for r in failures] == [401] * ADDRESS_LIMIT, [
            r.text for r in failures
        ]
        refused = c.post(token_url, data=cc, auth=basic)
        assert refused.status_code == 429, refused.text


def _refresh(c: httpx.Client, url: str, basic: tuple[str, str], token: str) -> str:
    answer = c.post(url, data={"grant_type": "refresh_token", "refresh_token": token}, auth=basic)
    assert answer.status_code == 200, answer.text
    value: str = answer.json()["refresh_token"]
    return value


def fake_assertion(client_id: str, audience: str) -> str:
    """A well-formed private_key_jwt assertion that no key of the client verifies."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "exp": now + 60, "jti": "j1"}
    signature = base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b"=").decode()
    return f"{part({'alg': 'ES256', 'kid': 'k1'})}.{part(claims)}.{signature}"

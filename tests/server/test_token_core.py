"""The token endpoint's core without HTTP: ``TokenEndpoint`` over a real SQLite store and a
frozen clock, built the way the application builds it. What crosses the wire (status codes,
headers, the JSON dialects) stays with the end-to-end tests in ``tests/test_token_endpoint.py``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tokensmith.oauth import (
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    read_jwt,
)
from tokensmith.server import Admin, open_master_key
from tokensmith.server._clientauth import ClientAuthenticator
from tokensmith.server._keys import new_master_key_value
from tokensmith.server._ratelimit import AuthLimiter
from tokensmith.server._secrets import SecretChecker
from tokensmith.server._state import RealmState, Registry
from tokensmith.server._token import Issued, TokenEndpoint
from tokensmith.store import Database, RefreshTokenRecord, refresh

from ..conftest import FrozenClock

ISSUER = "https://auth.example.com/realms/acme"
NOW = 1_700_000_000.75  # a fraction: claims carry whole seconds


@dataclass
class Core:
    """A token endpoint on its own database, with the admin that provisions it."""

    endpoint: TokenEndpoint
    registry: Registry
    admin: Admin
    db: Database
    clock: FrozenClock

    async def state(self, realm: str = "acme") -> RealmState:
        """The realm as the hot path sees it, reloaded after provisioning."""
        self.registry.invalidate(realm)
        state = await self.registry.realm(realm)
        assert state is not None
        return state

    async def issue(self, **form: str) -> Issued:
        """Answer a token request of client svc (its secret already in the form)."""
        return await self.endpoint.issue(await self.state(), form, None, ISSUER)

    async def refresh_record(self, token: str) -> RefreshTokenRecord:
        """What the store keeps of a refresh token."""
        async with self.db.read() as conn:
            record = await refresh.get_refresh_token(conn, refresh.digest(token))
        assert record is not None
        return record


@pytest.fixture
async def core(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Core]:
    """A token endpoint over a migrated SQLite file, with realm acme and no clients yet."""
    clock = FrozenClock(NOW)
    db = Database(migrated_sqlite_url)
    master = await open_master_key(db, new_master_key_value(), tmp_path / "unused.key")
    admin = Admin(db, master, clock=clock)
    await admin.create_realm("acme")
    registry = Registry(db, master, clock=clock)
    limiter = AuthLimiter()
    clients = ClientAuthenticator(registry, SecretChecker(), db, clock=clock, limiter=limiter)
    endpoint = TokenEndpoint(clients, db, clock=clock)
    try:
        yield Core(endpoint, registry, admin, db, clock)
    finally:
        await endpoint.external.aclose()
        await limiter.aclose()
        await db.close()


async def make_client(core: Core, **kwargs: Any) -> dict[str, str]:
    """Create client svc and return the form fields that authenticate it."""
    new = await core.admin.create_client("acme", "svc", **kwargs)
    assert new.secret is not None
    return {"client_id": "svc", "client_secret": new.secret}


async def test_client_credentials_claims_follow_the_frozen_clock(core: Core) -> None:
    """client_credentials mints a token whose iss, sub, aud, iat, exp and scope follow from the
    realm, the client, the request and the clock (whole seconds)."""
    creds = await make_client(core, scopes="a b", default_scopes="a")

    issued = await core.issue(grant_type="client_credentials", scope="a b", **creds)

    claims = (await core.state()).verify_own(issued.response.access_token, core.clock())
    assert claims["iss"] == ISSUER
    assert claims["sub"] == claims["client_id"] == "svc"
    assert claims["aud"] == "acme"
    assert claims["iat"] == 1_700_000_000
    assert claims["exp"] == 1_700_000_000 + 300
    assert claims["scope"] == "a b"
    assert issued.response.expires_in == 300
    assert issued.response.refresh_token is None
    assert issued.refresh_record is None


async def test_client_credentials_without_scope_gets_the_default_scopes(core: Core) -> None:
    """A request that names no scope is granted the client's default scopes."""
    creds = await make_client(core, scopes="a b", default_scopes="a")

    issued = await core.issue(grant_type="client_credentials", **creds)

    assert issued.response.scope == "a"
    assert read_jwt(issued.response.access_token).claims["scope"] == "a"


async def test_scope_outside_the_allowed_scopes_is_invalid_scope(core: Core) -> None:
    """Asking for a scope the client is not allowed is invalid_scope naming that scope."""
    creds = await make_client(core, scopes="a b")

    with pytest.raises(InvalidScope) as raised:
        await core.issue(grant_type="client_credentials", scope="a admin", **creds)

    assert "'admin'" in raised.value.description
    assert "allowed: a b" in raised.value.description


async def test_refresh_rotates_the_token_within_its_family(core: Core) -> None:
    """A refresh token is exchanged for a new pair of the same family and is used up."""
    creds = await make_client(core, scopes="a", refresh_tokens=True)
    first = (await core.issue(grant_type="client_credentials", **creds)).response
    assert first.refresh_token is not None
    core.clock.advance(10)

    second = await core.issue(
        grant_type="refresh_token", refresh_token=first.refresh_token, **creds
    )

    assert second.response.refresh_token not in (None, first.refresh_token)
    assert second.response.refresh_expires_in == 1800
    old = await core.refresh_record(first.refresh_token)
    assert second.refresh_record is not None
    new = await core.refresh_record(second.response.refresh_token or "")
    assert old.used_at == 1_700_000_010
    assert new.family == old.family
    assert new.parent == old.digest
    assert new.expires_at == 1_700_000_010 + 1800
    assert not new.revoked


async def test_reused_refresh_token_revokes_its_family(core: Core) -> None:
    """Presenting a used refresh token after the reuse grace period is invalid_grant and
    revokes every token of its family, so the token that replaced it no longer works."""
    creds = await make_client(core, scopes="a", refresh_tokens=True)
    first = (await core.issue(grant_type="client_credentials", **creds)).response
    assert first.refresh_token is not None
    second = (
        await core.issue(grant_type="refresh_token", refresh_token=first.refresh_token, **creds)
    ).response
    assert second.refresh_token is not None
    core.clock.advance(31)  # past the default reuse grace of 30 s

    with pytest.raises(InvalidGrant) as reused:
        await core.issue(grant_type="refresh_token", refresh_token=first.refresh_token, **creds)
    with pytest.raises(InvalidGrant) as child:
        await core.issue(grant_type="refresh_token", refresh_token=second.refresh_token, **creds)

    assert "already used" in reused.value.description
    assert (await core.refresh_record(second.refresh_token)).revoked
    assert "revoked" in child.value.description


async def test_retry_within_the_grace_period_gets_a_new_pair(core: Core) -> None:
    """A used refresh token presented again within the grace period (its answer was lost) gets
    a new pair, and the replacement that was never received is revoked."""
    creds = await make_client(core, scopes="a", refresh_tokens=True)
    first = (await core.issue(grant_type="client_credentials", **creds)).response
    assert first.refresh_token is not None
    lost = (
        await core.issue(grant_type="refresh_token", refresh_token=first.refresh_token, **creds)
    ).response
    core.clock.advance(5)

    retry = await core.issue(grant_type="refresh_token", refresh_token=first.refresh_token, **creds)

    assert retry.response.refresh_token not in (None, lost.refresh_token)
    assert (await core.refresh_record(lost.refresh_token or "")).revoked
    assert not (await core.refresh_record(retry.response.refresh_token or "")).revoked


async def test_expired_refresh_token_is_invalid_grant(core: Core) -> None:
    """A refresh token presented after its lifetime is invalid_grant."""
    creds = await make_client(core, scopes="a", refresh_tokens=True)
    first = (await core.issue(grant_type="client_credentials", **creds)).response
    assert first.refresh_token is not None
    core.clock.advance(1800)

    with pytest.raises(InvalidGrant) as raised:
        await core.issue(grant_type="refresh_token", refresh_token=first.refresh_token, **creds)

    assert "expired" in raised.value.description


async def test_refresh_grant_needs_a_client_allowed_refresh_tokens(core: Core) -> None:
    """A client without refresh tokens asking for the refresh_token grant is
    unauthorized_client."""
    creds = await make_client(core, scopes="a")

    with pytest.raises(UnauthorizedClient):
        await core.issue(grant_type="refresh_token", refresh_token="x" * 43, **creds)


@pytest.mark.parametrize(
    ("grant_type", "says"),
    [("password", "machine clients"), ("urn:example:made-up", "client_credentials")],
)
async def test_unsupported_grant_type(core: Core, grant_type: str, says: str) -> None:
    """A grant this service does not offer is unsupported_grant_type saying what it offers."""
    creds = await make_client(core)

    with pytest.raises(UnsupportedGrantType) as raised:
        await core.issue(grant_type=grant_type, **creds)

    assert says in raised.value.description


async def test_missing_grant_type_is_invalid_request(core: Core) -> None:
    """A request without grant_type is invalid_request."""
    creds = await make_client(core)

    with pytest.raises(InvalidRequest):
        await core.issue(**creds)


async def test_disabled_client_is_invalid_client(core: Core) -> None:
    """A disabled client is refused with invalid_client even with its right secret."""
    creds = await make_client(core, scopes="a")
    await core.admin.set_client_enabled("acme", "svc", False)

    with pytest.raises(InvalidClient) as raised:
        await core.issue(grant_type="client_credentials", **creds)

    assert "disabled" in raised.value.description

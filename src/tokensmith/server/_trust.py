"""Trusted external issuers of a realm: adding, listing and removing them, and a demo issuer that
tokensmith signs for itself so that the GBG id_auth flow can be tried without an SSO provider."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from urllib.parse import quote

from ..oauth import (
    DEFAULT_EXTERNAL_ALGORITHMS,
    EXTERNAL_ALGORITHMS,
    Signer,
    generate_key,
    key_from_pem,
    key_id,
    key_to_pem,
    public_jwk,
)
from ..store import TrustedIssuer
from ..store import issuers as issuer_rows  # the repository; Trust.issuers is the method
from ._admin import Admin, changing, reading
from ._admin_checks import AdminError, check_ttl
from ._audit import record_change
from ._events import emit
from ._profiles import PROFILES, spiffe_trust_domain

DEFAULT_MAX_AGE = 3600
"""How old (by ``iat``) a trusted issuer's token may be, by default, in seconds."""
DEMO_ISSUER = "https://sso.demo.tokensmith.invalid"
DEMO_AUDIENCE = "tokensmith-demo"
_URL = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")


class Trust:
    """Manages the trusted issuers of an :class:`Admin`'s database."""

    def __init__(self, admin: Admin) -> None:
        self.admin = admin

    async def add(
        self,
        realm_name: str,
        issuer: str,
        *,
        jwks_url: str | None = None,
        jwks: dict[str, object] | None = None,
        audiences: Sequence[str] = (),
        algorithms: Sequence[str] = DEFAULT_EXTERNAL_ALGORITHMS,
        max_age: int = DEFAULT_MAX_AGE,
        claims: Sequence[str] = (),
        profile: str = "oidc",
        client_audience: str | None = None,
        ca_file: str | None = None,
        _private_key: bytes | None = None,
    ) -> None:
        """Trust tokens from ``issuer`` (keys from ``jwks_url``, inline ``jwks``, or discovery).

        ``profile`` names the platform whose quirks apply (``server/_profiles.py``): a
        ``kubernetes`` issuer's keys default to ``ISSUER/openid/v1/jwks``, a ``spiffe`` issuer
        is a trust domain (``spiffe://example.org``) with its bundle as ``jwks`` or
        ``jwks_url``. ``client_audience`` is the ``aud`` its tokens must name to authenticate a
        client (default: this service's token endpoint or issuer URL); ``ca_file`` a PEM bundle
        to fetch its keys with.

        Raises:
            AdminError: an argument is invalid.
            NotFound: the realm does not exist.
            Conflict: the realm already trusts the issuer.
        """
        known = PROFILES.get(profile)
        if known is None:
            raise AdminError(f"profile must be one of {', '.join(PROFILES)}")
        if profile == "spiffe":
            if spiffe_trust_domain(issuer) != issuer:
                raise AdminError(
                    f"a spiffe issuer is a trust domain like spiffe://example.org, not {issuer!r}"
                )
            if jwks is None and jwks_url is None:
                raise AdminError("a spiffe issuer needs its trust bundle: a JWKS file or URL")
        elif not _URL.fullmatch(issuer):
            raise AdminError(f"issuer {issuer!r} must be an http(s) URL")
        if known.jwks_path and jwks is None and jwks_url is None:
            jwks_url = issuer.rstrip("/") + known.jwks_path
        if client_audience is not None and not (
            client_audience.strip() == client_audience and 0 < len(client_audience) <= 255
        ):
            raise AdminError("the client audience must be 1 to 255 characters, no outer spaces")
        if ca_file is not None and (len(ca_file) > 1024 or not ca_file.startswith("/")):
            raise AdminError("the CA file must be an absolute path")
        if jwks_url is not None and not _URL.fullmatch(jwks_url):
            raise AdminError(f"JWKS URL {jwks_url!r} must be an http(s) URL")
        if jwks_url is not None and jwks is not None:
            raise AdminError("give the keys either as a JWKS URL or inline, not both")
        if jwks is not None and not isinstance(jwks.get("keys"), list):
            raise AdminError('inline keys must be a JWKS document: {"keys": [...]}')
        bad = [a for a in algorithms if a not in EXTERNAL_ALGORITHMS]
        if bad or not algorithms:
            raise AdminError(f"algorithms must be among {', '.join(EXTERNAL_ALGORITHMS)}")
        check_ttl("maximum token age", max_age)
        async with changing(self.admin.db, realm_name) as (conn, realm):
            await issuer_rows.add_issuer(
                conn,
                realm_id=realm.id,
                issuer=issuer,
                jwks_url=jwks_url,
                jwks=json.dumps(jwks) if jwks is not None else None,
                audiences=" ".join(audiences),
                algorithms=" ".join(algorithms),
                max_age=max_age,
                claims=" ".join(claims),
                private_key=_private_key,
                now=int(self.admin.clock()),
                profile=profile,
                client_audience=client_audience,
                ca_file=ca_file,
            )
            await record_change(
                conn,
                self.admin.clock,
                realm.name,
                "CREATE",
                "TRUSTED_ISSUER",
                f"trusted-issuers/{quote(issuer, safe='')}",
                issuer=issuer,
                demo=_private_key is not None,
            )
        emit("issuer_trusted", realm=realm_name, issuer=issuer, profile=profile)

    async def issuers(self, realm_name: str) -> list[TrustedIssuer]:
        """The realm's trusted issuers.

        Raises:
            NotFound: the realm does not exist.
        """
        async with reading(self.admin.db, realm_name) as (conn, realm):
            return await issuer_rows.list_issuers(conn, realm.id)

    async def remove(self, realm_name: str, issuer: str) -> None:
        """Stop trusting ``issuer``.

        Raises:
            NotFound: the realm does not exist or does not trust the issuer.
        """
        async with changing(self.admin.db, realm_name) as (conn, realm):
            await issuer_rows.remove_issuer(conn, realm.id, issuer)
            await record_change(
                conn,
                self.admin.clock,
                realm.name,
                "DELETE",
                "TRUSTED_ISSUER",
                f"trusted-issuers/{quote(issuer, safe='')}",
                issuer=issuer,
            )
        emit("issuer_untrusted", realm=realm_name, issuer=issuer)

    async def add_demo(self, realm_name: str, issuer: str = DEMO_ISSUER) -> None:
        """Trust a demo issuer whose key tokensmith holds (encrypted), for :meth:`demo_token`.

        Raises:
            NotFound: the realm does not exist.
            Conflict: the realm already trusts the issuer.
        """
        key = generate_key("ES256")
        kid = key_id(key)
        await self.add(
            realm_name,
            issuer,
            jwks={"keys": [public_jwk(key, kid=kid, alg="ES256")]},
            audiences=[DEMO_AUDIENCE],
            algorithms=["ES256"],
            claims=["email", "name"],
            _private_key=self.admin.master.encrypt(key_to_pem(key)),
        )

    async def demo_token(
        self,
        realm_name: str,
        *,
        sub: str,
        ttl: int = 300,
        issuer: str | None = None,
        claims: dict[str, object] | None = None,
    ) -> str:
        """An id_token for ``sub`` signed by the realm's demo issuer.

        Raises:
            AdminError: the realm has no demo issuer (``tokensmith issuer add-demo``).
        """
        demo = [t for t in await self.issuers(realm_name) if t.private_key is not None]
        if issuer is not None:
            demo = [t for t in demo if t.issuer == issuer]
        if not demo:
            raise AdminError(
                f"realm {realm_name!r} has no demo issuer; add one with "
                f"'tokensmith issuer add-demo {realm_name}'"
            )
        trusted = demo[0]
        assert trusted.private_key is not None
        key = key_from_pem("ES256", self.admin.master.decrypt(trusted.private_key))
        now = int(self.admin.clock())
        body: dict[str, object] = dict(claims or {})
        body.update(
            iss=trusted.issuer,
            sub=sub,
            aud=DEMO_AUDIENCE,
            iat=now,
            exp=now + ttl,
            jti=secrets.token_urlsafe(12),
        )
        return Signer(key, kid=key_id(key), alg="ES256", typ="JWT").sign(body)

"""Tokens from trusted external issuers (an SSO provider's id_token, a JWT assertion), checked
for the id_auth, token-exchange and jwt-bearer grants.

Every failure is ``invalid_grant`` whose description says which check failed, so a caller can
tell an unsigned blob from an expired token from a token for another audience.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..oauth import (
    Clock,
    InvalidGrant,
    InvalidToken,
    MalformedJWT,
    TemporarilyUnavailable,
    audiences_of,
    echo,
    read_jwt,
    system_clock,
)
from ..store import TrustedIssuer
from ._profiles import profile_of
from ._state import RealmState
from ._verifiers import Verifiers

if TYPE_CHECKING:
    from ..core import Verifier


class ExternalTokens:
    """Verifies external JWTs against the realm's trusted issuers, caching their keys."""

    def __init__(self, *, clock: Clock = system_clock, verifiers: Verifiers | None = None) -> None:
        self.clock = clock
        self.verifiers = verifiers if verifiers is not None else Verifiers()

    def __repr__(self) -> str:
        return f"ExternalTokens(verifiers={len(self.verifiers)})"

    async def verify(self, state: RealmState, token: str, *, what: str) -> dict[str, Any]:
        """The claims of ``token`` (named ``what`` in errors) if a trusted issuer signed it.

        Raises:
            InvalidGrant: not a JWT, untrusted issuer, bad signature, expired, wrong audience,
                too old, or no subject.
            TemporarilyUnavailable: the issuer's keys cannot be fetched.
        """
        from ..core import VerifierUnavailable  # httpx and the verifier: with the first token

        dots = token.count(".")
        if dots != 2:
            raise InvalidGrant(
                f"the {what} is not a signed JWT (expected three dot-separated parts, got "
                f"{dots + 1}); an unsigned or bare base64 token is not accepted"
            )
        try:
            unverified = read_jwt(token).claims
        except MalformedJWT as exc:
            raise InvalidGrant(f"the {what} was refused: {exc}") from None
        iss = unverified.get("iss")
        if not isinstance(iss, str):
            raise InvalidGrant(f"the {what} has no iss claim")
        trusted = state.issuers.get(iss)
        if trusted is None:
            raise InvalidGrant(
                f"the {what} issuer {echo(iss)!r} is not trusted by realm {state.realm.name!r}"
            )
        if not trusted.audiences and profile_of(trusted.profile).owner_claims:
            # Anybody can get a token of github.com or gitlab.com for any audience.
            raise InvalidGrant(
                f"the {what} issuer {echo(iss)!r} is trusted for federated client "
                "authentication only; trust it with an audience to accept its tokens here"
            )
        try:
            verifier = self._verifier(trusted)
            claims = await verifier.averify(token)
        except InvalidToken as exc:
            raise InvalidGrant(f"the {what} was refused: {exc.description}") from None
        except VerifierUnavailable:
            raise TemporarilyUnavailable(
                f"the keys of issuer {echo(iss)!r} cannot be fetched; retry shortly"
            ) from None
        self._check(trusted, claims, what)
        return claims

    def _check(self, trusted: TrustedIssuer, claims: dict[str, Any], what: str) -> None:
        if trusted.audiences and not audiences_of(claims) & trusted.audiences:
            accepted = ", ".join(sorted(trusted.audiences))
            raise InvalidGrant(f"the {what} is for another audience (accepted: {accepted})")
        iat = claims.get("iat")
        if isinstance(iat, int | float) and self.clock() - iat > trusted.max_age:
            raise InvalidGrant(
                f"the {what} is older than the {trusted.max_age} s this realm allows"
            )
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise InvalidGrant(f"the {what} has no sub claim")

    def verifier(self, trusted: TrustedIssuer) -> Verifier:
        """The (cached) verifier of the issuer's signatures, ``iss``, ``exp`` and ``nbf``."""
        return self._verifier(trusted)

    def _verifier(self, trusted: TrustedIssuer) -> Verifier:
        def make() -> Verifier:
            from ..core import Verifier

            # A SPIFFE trust domain is no iss (JWT-SVIDs may have none): the bundle's keys say
            # which domain signed, and the federated check matches sub to it.
            spiffe = trusted.profile == "spiffe"
            return Verifier(
                issuer=None if spiffe else trusted.issuer,
                jwks_url=trusted.jwks_url,
                jwks=json.loads(trusted.jwks) if trusted.jwks else None,
                audience=None,
                algorithms=trusted.algorithms,
                typ=None,
                clock=self.clock,
                ca_file=trusted.ca_file,
            )

        return self.verifiers.get(
            ("issuer", trusted.realm_id, trusted.id, trusted.created_at), make
        )

    async def aclose(self) -> None:
        """Close the HTTP clients of the issuers' verifiers."""
        await self.verifiers.aclose()

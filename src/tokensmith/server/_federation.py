"""Workload identity federation: clients that authenticate with the token their platform gives
them (a Kubernetes service-account token, a GitHub Actions or GitLab CI ID token, a SPIFFE
JWT-SVID) instead of a secret.

A client's *federated credential* names a trusted issuer and either the exact ``sub`` its
tokens must have or a CEL condition over their claims (``_cel.py``). The workload sends the
platform's token as a client assertion (RFC 7521 §4.2: ``client_assertion_type`` jwt-bearer, or
jwt-spiffe of the OAuth SPIFFE client-authentication draft), with its ``client_id`` or without
one (the credential that matches names the client). The credentials are loaded and their
conditions compiled with the realm (``_state.py``): checking one reads no database, but for the
single-use ``jti`` of a platform that does not reuse its tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..oauth import (
    Clock,
    InvalidClient,
    InvalidToken,
    MalformedJWT,
    TemporarilyUnavailable,
    audiences_of,
    read_jwt,
    system_clock,
)
from ..store import Client, Database, FederatedCredential, TrustedIssuer, denylist
from ._profiles import profile_of, spiffe_trust_domain

if TYPE_CHECKING:
    from ._cel import Condition
    from ._external import ExternalTokens
    from ._state import RealmState, Registry

log = logging.getLogger("tokensmith.server")

_MAX_JTI = 200  # with the issuer's id, fits the 255 characters the replay store keeps
_MAX_REASONS = 5  # failed checks named in one description


@dataclass(frozen=True)
class CompiledCredential:
    """A federated credential as the check needs it: its condition compiled (or why it could
    not be, which then fails every token)."""

    record: FederatedCredential
    condition: Condition | None = field(default=None, compare=False)
    broken: str | None = None

    def mismatch(self, claims: dict[str, Any]) -> str | None:
        """Why the token with ``claims`` does not match, naming the credential and the check
        but no claim value; None when it matches."""
        name = self.record.name
        if self.record.subject is not None:
            if claims.get("sub") == self.record.subject:
                return None
            return f"the token's sub does not match federated credential {name!r}"
        if self.broken is not None:
            return f"the condition of federated credential {name!r} is unusable: {self.broken}"
        from ._cel import ConditionFailed

        assert self.condition is not None
        try:
            self.condition.holds(claims)
        except ConditionFailed as exc:
            return f"the condition of federated credential {name!r} failed: {exc}"
        return None


def compile_credentials(
    records: Iterable[FederatedCredential],
) -> dict[str, tuple[CompiledCredential, ...]]:
    """The credentials by issuer URL, conditions compiled once; the CEL module is imported only
    when one of them has a condition."""
    compiled: dict[str, list[CompiledCredential]] = {}
    for record in records:
        entry = CompiledCredential(record)
        if record.condition is not None:
            from ._cel import ConditionError, compile_condition

            try:
                entry = CompiledCredential(record, compile_condition(record.condition))
            except ConditionError as exc:
                log.error(
                    "federated credential %s of client %s cannot be used: %s",
                    record.name,
                    record.client_id,
                    exc,
                )
                entry = CompiledCredential(record, broken=str(exc))
        compiled.setdefault(record.issuer, []).append(entry)
    return {issuer: tuple(entries) for issuer, entries in compiled.items()}


class FederatedAuthenticator:
    """Authenticates a client by a trusted issuer's token and the client's federated
    credentials."""

    def __init__(
        self,
        registry: Registry,
        db: Database,
        external: ExternalTokens,
        *,
        clock: Clock = system_clock,
    ) -> None:
        self.registry = registry
        self.db = db
        self.external = external
        self.clock = clock

    async def authenticate(
        self,
        state: RealmState,
        assertion: str,
        *,
        client_id: str | None,
        audiences: Collection[str],
    ) -> Client:
        """The client one of whose federated credentials matches the platform token
        ``assertion``, checked in this order: a trusted issuer (by ``iss``, or a SPIFFE ID's
        trust domain), a credential for it (of ``client_id`` when given), the signature,
        ``exp``/``nbf``, ``aud`` (the issuer's client audience, else one of ``audiences``), the
        token's age, the credentials' subjects and conditions, and, unless the issuer's
        platform reuses its tokens, a ``jti`` never seen before.

        Raises:
            InvalidClient: a check failed; the description names it, never a claim's value.
            TemporarilyUnavailable: the issuer's keys cannot be fetched.
        """
        # joserfc, httpx and the verifier: with the first federated token, not in every worker
        from ..core import VerifierUnavailable
        from ..oauth import BadSignature, UnknownKey

        trusted = self._issuer(state, assertion)
        candidates = state.federated.get(trusted.issuer, ())
        if client_id:
            candidates = tuple(c for c in candidates if c.record.client_id == client_id)
        if not candidates:
            whose = f"client {client_id!r}" if client_id else "any client"
            raise InvalidClient(
                f"{whose} has no federated credential for issuer {trusted.issuer!r}"
            )
        try:
            claims = await self.external.verifier(trusted).averify(assertion)
        except (UnknownKey, BadSignature):
            raise InvalidClient(
                f"the client assertion's signature does not verify with the keys of issuer "
                f"{trusted.issuer!r}"
            ) from None
        except InvalidToken as exc:
            raise InvalidClient(f"the client assertion was refused: {exc.description}") from None
        except VerifierUnavailable:
            raise TemporarilyUnavailable(
                f"the keys of issuer {trusted.issuer!r} cannot be fetched; retry shortly"
            ) from None
        self._check_claims(trusted, claims, audiences)
        reasons: list[str] = []
        matched: list[CompiledCredential] = []
        for candidate in candidates:
            reason = candidate.mismatch(claims)
            if reason is None:
                matched.append(candidate)
            else:
                reasons.append(reason)
        if not matched:
            more = len(reasons) - _MAX_REASONS
            text = "; ".join(reasons[:_MAX_REASONS]) + (f"; and {more} more" if more > 0 else "")
            raise InvalidClient(text)
        owners = sorted({c.record.client_id for c in matched})
        if len(owners) > 1:
            raise InvalidClient(
                "the token matches federated credentials of several clients; send client_id"
            )
        await self._use_once(state, trusted, claims)
        client = await self.registry.client(state, owners[0])
        if client is None:  # deleted since the realm was loaded
            raise InvalidClient(f"client {owners[0]!r} does not exist any more")
        return client

    def _issuer(self, state: RealmState, assertion: str) -> TrustedIssuer:
        try:
            unverified = read_jwt(assertion).claims
        except MalformedJWT as exc:
            raise InvalidClient(f"the client assertion was refused: {exc}") from None
        iss, sub = unverified.get("iss"), unverified.get("sub")
        trusted = state.issuers.get(iss) if isinstance(iss, str) else None
        if (trusted is None or trusted.profile == "spiffe") and isinstance(sub, str):
            domain = spiffe_trust_domain(sub)
            bundle = state.issuers.get(domain) if domain else None
            if bundle is not None and bundle.profile == "spiffe":
                trusted = bundle
        if trusted is None:
            raise InvalidClient(
                f"the client assertion's issuer is not trusted by realm {state.realm.name!r}"
            )
        return trusted

    def _check_claims(
        self, trusted: TrustedIssuer, claims: dict[str, Any], audiences: Collection[str]
    ) -> None:
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise InvalidClient("the client assertion has no sub claim")
        if trusted.profile == "spiffe" and spiffe_trust_domain(sub) != trusted.issuer:
            raise InvalidClient(
                f"the client assertion's sub is not a SPIFFE ID of trust domain {trusted.issuer!r}"
            )
        if trusted.client_audience is not None:
            if trusted.client_audience not in audiences_of(claims):
                raise InvalidClient(
                    f"the client assertion's aud must be {trusted.client_audience!r}"
                )
        elif not audiences_of(claims) & set(audiences):
            raise InvalidClient(
                "the client assertion's aud must be this service's token endpoint or issuer URL"
            )
        iat = claims.get("iat")
        if isinstance(iat, int | float) and self.clock() - iat > trusted.max_age:
            raise InvalidClient(
                f"the client assertion is older than the {trusted.max_age} s issuer "
                f"{trusted.issuer!r} allows"
            )

    async def _use_once(
        self, state: RealmState, trusted: TrustedIssuer, claims: dict[str, Any]
    ) -> None:
        """Refuse a replayed ``jti``, unless the issuer's platform reuses its tokens (RFC 7523
        §3 wants a jti used once; Kubernetes, GitLab CI and SPIFFE present one token many
        times)."""
        jti = claims.get("jti")
        if profile_of(trusted.profile).reuses_tokens or not isinstance(jti, str) or not jti:
            return
        if len(jti) > _MAX_JTI or not jti.isprintable():
            raise InvalidClient(
                f"the client assertion's jti must be printable text of at most {_MAX_JTI} "
                "characters"
            )
        exp = claims.get("exp")
        now = self.clock()
        expires = int(exp) if isinstance(exp, int | float) else int(now + trusted.max_age)
        longest = max(state.realm.assertion_lifetime, trusted.max_age)
        expires = min(expires, int(now + longest))
        async with self.db.write() as conn:
            fresh = await denylist.use_jti(
                conn, state.realm.id, "assertion", f"issuer-{trusted.id}:{jti}", expires + 60
            )
        if not fresh:
            raise InvalidClient(
                f"the client assertion was already used (replay refused): issuer "
                f"{trusted.issuer!r}'s tokens are single-use"
            )

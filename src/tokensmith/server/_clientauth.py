"""Client authentication at the token, introspection and revocation endpoints:
``client_secret_basic`` and ``client_secret_post`` (RFC 6749 §2.3.1), ``private_key_jwt``
(RFC 7523 §2.2) and a platform token matching a federated credential (``_federation.py``), with
failed attempts counted and limited per client and source address."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from base64 import b64decode
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from ..oauth import (
    ASSERTION_ALGORITHMS,
    Clock,
    InvalidClient,
    InvalidRequest,
    InvalidToken,
    MalformedJWT,
    TemporarilyUnavailable,
    audiences_of,
    read_jwt,
    system_clock,
)
from ..store import CLIENT_ID, Client, Database, clients
from ._events import emit
from ._external import ExternalTokens
from ._federation import FederatedAuthenticator
from ._ratelimit import REQUEST_ADDRESS, AuthLimiter
from ._secrets import SecretChecker
from ._state import RealmState, Registry
from ._verifiers import Verifiers

if TYPE_CHECKING:
    from ..core import Verifier

METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SPIFFE_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe"
"""The OAuth SPIFFE client-authentication draft's type: the assertion is a JWT-SVID."""
_MAX_JTI = 200  # with the client's id, fits the 255 characters the replay store keeps
_UNVERIFIED = (
    "the client assertion was refused: unknown client, or no key registered for it verifies "
    "the signature"
)

log = logging.getLogger("tokensmith.server")


@dataclass(frozen=True)
class Credentials:
    """What a client presented to authenticate; ``repr`` never shows the proof."""

    client_id: str
    proof: str = field(repr=False)
    """The client secret, or the signed assertion of ``private_key_jwt`` or ``federated``."""
    method: str
    """``client_secret_basic``, ``client_secret_post``, ``private_key_jwt`` or ``federated``
    (a platform token; ``client_id`` is then the one the form named, or empty)."""
    raw: Credentials | None = field(default=None, repr=False)
    """HTTP Basic only: the user and password as sent, when form-decoding them (RFC 6749
    §2.3.1) changes them. Authlib's client, requests-oauthlib and httpx-auth do not encode, so
    a secret holding ``+``, ``%`` or a space is meant either way."""

    @property
    def readings(self) -> tuple[Credentials, ...]:
        """The ways to read the credentials: form-decoded first, then as sent."""
        return (self,) if self.raw is None else (self, self.raw)


def credentials(form: dict[str, str], authorization: str | None) -> Credentials:
    """The client credentials of a token request.

    Raises:
        InvalidRequest: the client used two authentication methods at once.
        InvalidClient: no credentials, or unreadable Basic credentials.
    """
    if "client_assertion_type" in form or "client_assertion" in form:
        return _assertion(form, authorization)
    if authorization is not None:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "basic":
            if "client_secret" in form:
                raise InvalidRequest(
                    "the client authenticated twice (HTTP Basic and client_secret in the body); "
                    "use one method"
                )
            creds = _basic(value.strip())
            body_id = form.get("client_id")
            if body_id is None:
                return creds
            named = [r for r in creds.readings if r.client_id == body_id]
            if not named:
                raise InvalidRequest("client_id in the body differs from the HTTP Basic user")
            return dataclasses.replace(named[0], raw=named[1] if len(named) > 1 else None)
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    if client_id is None:
        raise InvalidClient(
            "client authentication is required: send client_id and client_secret, or HTTP Basic"
        )
    if secret is None:
        raise InvalidClient(
            "client_secret is missing; every client of this service is confidential "
            "(or use private_key_jwt)"
        )
    return Credentials(client_id, secret, "client_secret_post")


class ClientAuthenticator:
    """Authenticates the client of a request to any realm endpoint (token, introspect, revoke)."""

    def __init__(
        self,
        registry: Registry,
        checker: SecretChecker,
        db: Database,
        *,
        clock: Clock = system_clock,
        limiter: AuthLimiter | None = None,
        verifiers: Verifiers | None = None,
    ) -> None:
        self.registry = registry
        self.checker = checker
        self.db = db
        self.clock = clock
        self.limiter = limiter if limiter is not None else AuthLimiter()
        self.verifiers = verifiers if verifiers is not None else Verifiers()
        self.federated = FederatedAuthenticator(
            registry, db, ExternalTokens(clock=clock, verifiers=self.verifiers), clock=clock
        )

    async def authenticate(
        self,
        state: RealmState,
        form: dict[str, str],
        authorization: str | None,
        *,
        audiences: Collection[str] = (),
    ) -> Client:
        """The enabled client whose credentials the request carries. ``audiences`` are the
        ``aud`` values a private_key_jwt assertion may name (the issuer and endpoint URLs).

        Failures are counted per client id and per source address (:data:`REQUEST_ADDRESS`);
        past the realm's limits, attempts are refused before any credential is checked. HTTP
        Basic credentials that read differently form-decoded and as sent are tried both ways,
        and count as one attempt.

        Raises:
            InvalidRequest: two authentication methods at once.
            InvalidClient: missing, unknown or wrong credentials, a refused or replayed
                assertion, or a disabled client.
            SlowDown: too many failures of this client or address, or a concurrent check of
                another secret of this client is running.
        """
        address = REQUEST_ADDRESS.get()
        try:
            creds = credentials(form, authorization)
        except InvalidClient:
            emit(
                "client_auth_failed",
                realm=state.realm.name,
                client_id=form.get("client_id"),
                method="client_secret_basic" if authorization else "client_secret_post",
                address=address,
                reason="malformed_credentials",
            )
            raise
        await self.limiter.admit(state.realm, creds.client_id, address)
        if creds.raw is not None and creds.raw.client_id != creds.client_id:
            # A client id may hold '+', which only the reading as sent keeps: its limit must
            # hold whichever reading names it.
            await self.limiter.admit(state.realm, creds.raw.client_id, address)
        try:
            return await self._authenticate(state, creds, audiences)
        except InvalidClient:
            known = next(
                (r.client_id for r in creds.readings if r.client_id in state.clients), None
            )
            await self.limiter.failed(state.realm, known, address)
            emit(
                "client_auth_failed",
                realm=state.realm.name,
                client_id=creds.client_id,
                method=creds.method,
                address=address,
                reason=_failure_reason(state, creds, known),
            )
            raise

    async def _authenticate(
        self, state: RealmState, creds: Credentials, audiences: Collection[str]
    ) -> Client:
        if creds.method == "private_key_jwt":
            found = await self.registry.client(state, creds.client_id)
            client = await self._check_assertion(state, found, creds.proof, audiences)
        elif creds.method == "federated":
            client = await self.federated.authenticate(
                state, creds.proof, client_id=creds.client_id or None, audiences=audiences
            )
        else:
            client = await self._check_secret(state, creds)
        if not client.enabled:
            raise InvalidClient(f"client {client.client_id!r} is disabled")
        return client

    async def _check_secret(self, state: RealmState, creds: Credentials) -> Client:
        """The client whose secret one reading of ``creds`` carries.

        Raises:
            InvalidClient: no reading names a client with that secret.
            SlowDown: as :meth:`SecretChecker.check`.
        """
        now = self.clock()
        readings = [(r, await self.registry.client(state, r.client_id)) for r in creds.readings]
        if len(readings) > 1:
            # A match without argon2 first (a generated secret, or a chosen one checked before),
            # so that a client that skips form-encoding pays the hash for the reading that fails
            # once, not on every request.
            for reading, client in readings:
                if client is not None and self.checker.matches_cheaply(
                    reading.proof, client.secrets, now
                ):
                    return client
        for reading, client in readings:
            if client is not None and await self.checker.check(
                reading.proof,
                client.secrets,
                now,
                owner=client.id,
                patient=functools.partial(
                    self.limiter.clean, state.realm, reading.client_id, REQUEST_ADDRESS.get()
                ),
            ):
                return client
        raise InvalidClient("unknown client or wrong client secret")

    async def _check_assertion(
        self, state: RealmState, client: Client | None, assertion: str, audiences: Collection[str]
    ) -> Client:
        """RFC 7523 §3: signature by the client's key, iss = sub = client_id, aud naming this
        service, exp, and a jti never seen before within the assertion's lifetime.

        Until the signature verifies, an unknown client, a client without keys and a wrong key
        get the same answer, so that the text does not tell which client ids exist.
        """
        # joserfc, httpx and the verifier: with the first assertion, not in every worker
        from ..core import VerifierUnavailable
        from ..oauth import BadSignature, PublicKeys, UnknownKey, verify_jwt_access_token

        verifier = self._verifier(client) if client is not None else None
        try:
            if client is None or verifier is None:  # the same header checks, against no keys
                verify_jwt_access_token(
                    assertion,
                    PublicKeys({}),
                    algorithms=ASSERTION_ALGORITHMS,
                    issuer=None,
                    audience=None,
                    now=self.clock(),
                    typ=None,
                )
                raise UnknownKey("no keys")  # not reached: no key fits with no keys at all
            claims = await verifier.averify(assertion)
        except (UnknownKey, BadSignature):
            raise InvalidClient(_UNVERIFIED) from None
        except InvalidToken as exc:
            raise InvalidClient(f"the client assertion was refused: {exc.description}") from None
        except VerifierUnavailable:
            raise TemporarilyUnavailable(
                "the client's keys cannot be fetched; retry shortly"
            ) from None
        if claims.get("sub") != client.client_id:
            raise InvalidClient("the client assertion's sub must be the client_id")
        if not audiences_of(claims) & set(audiences):
            raise InvalidClient("the client assertion's aud must be the token endpoint or issuer")
        jti, exp = claims.get("jti"), float(claims["exp"])  # exp: checked by the verifier
        if not isinstance(jti, str) or not jti:
            raise InvalidClient("the client assertion has no jti")
        if len(jti) > _MAX_JTI or not jti.isprintable():  # it is stored to refuse replays
            raise InvalidClient(
                f"the client assertion's jti must be printable text of at most {_MAX_JTI} "
                "characters"
            )
        # The replay store keeps each jti until its exp, so the realm's longest lifetime bounds
        # how long a row lives and how long an assertion captured before use stays good. The
        # default, an hour, admits Authlib's PrivateKeyJWT as it comes (exp = iat + 3600); the
        # verifier's leeway lets a client whose clock runs ahead through too.
        longest = state.realm.assertion_lifetime
        if exp - self.clock() > longest + verifier.leeway:
            raise InvalidClient(
                f"the client assertion lives longer than {longest} s, this realm's longest"
            )
        async with self.db.write() as conn:
            fresh = await clients.use_assertion(
                conn, state.realm.id, f"{client.id}:{jti}", int(exp) + 60
            )
        if not fresh:
            raise InvalidClient("the client assertion was already used (replay refused)")
        return client

    def _verifier(self, client: Client) -> Verifier | None:
        """The verifier of the client's assertions; None when it has no (usable) keys."""
        if client.jwks is None and client.jwks_url is None:
            return None
        jwks = client.jwks

        def make() -> Verifier:
            from ..core import Verifier

            return Verifier(
                issuer=client.client_id,
                jwks_url=client.jwks_url,
                jwks=json.loads(jwks) if jwks else None,
                algorithms=ASSERTION_ALGORITHMS,
                typ=None,
                clock=self.clock,
            )

        try:
            return self.verifiers.get(
                ("client", client.id, client.created_at, client.jwks, client.jwks_url), make
            )
        except ValueError:
            log.warning("client %s of a realm has a JWKS that is not usable", client.id)
            return None


def _failure_reason(state: RealmState, creds: Credentials, known: str | None) -> str:
    """Why an authentication failed, as the ``reason`` of its event and metric: one of
    ``unknown_client``, ``client_disabled``, ``bad_assertion`` and ``bad_secret``."""
    if known is None:
        return "unknown_client"
    if not state.clients[known].enabled:
        return "client_disabled"
    return "bad_secret" if creds.method.startswith("client_secret") else "bad_assertion"


def _assertion(form: dict[str, str], authorization: str | None) -> Credentials:
    """A client assertion: ``private_key_jwt`` when its ``iss`` is a client id, ``federated``
    when it is a URL (no client id can hold a ':') or the assertion is a SPIFFE JWT-SVID."""
    kind = form.get("client_assertion_type")
    if kind not in (ASSERTION_TYPE, SPIFFE_ASSERTION_TYPE):
        raise InvalidRequest(
            f"client_assertion_type must be {ASSERTION_TYPE} (or {SPIFFE_ASSERTION_TYPE})"
        )
    assertion = form.get("client_assertion")
    if assertion is None:
        raise InvalidRequest("client_assertion is missing")
    if "client_secret" in form or (authorization or "").lower().startswith("basic "):
        raise InvalidRequest("the client authenticated twice; use one method")
    try:
        iss = read_jwt(assertion).claims.get("iss")
    except MalformedJWT as exc:
        raise InvalidClient(f"the client assertion was refused: {exc}") from None
    if kind == SPIFFE_ASSERTION_TYPE or (isinstance(iss, str) and ":" in iss):
        return Credentials(form.get("client_id", ""), assertion, "federated")
    if not isinstance(iss, str):
        raise InvalidClient("the client assertion has no iss claim")
    if form.get("client_id", iss) != iss:
        raise InvalidClient("client_id differs from the client assertion's iss")
    return Credentials(iss, assertion, "private_key_jwt")


def _basic(value: str) -> Credentials:
    try:
        octets = b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII in the header
        raise InvalidClient("the HTTP Basic credentials are not valid base64") from None
    try:
        text = octets.decode("utf-8")
    except UnicodeDecodeError:
        # Authlib's client and requests encode Basic credentials as Latin-1 (RFC 7617 §2.1
        # leaves the charset open); a form-encoded secret is ASCII and never gets here.
        text = octets.decode("latin-1")
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise InvalidClient("the HTTP Basic credentials must be client_id:client_secret")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding. Many clients skip
    # that, so when decoding changes them, the values as sent are tried too.
    creds = Credentials(unquote_plus(user), unquote_plus(password), "client_secret_basic")
    # A user as sent that no client id can be (it holds '%') is not looked up.
    raw = Credentials(
        user if CLIENT_ID.fullmatch(user) else creds.client_id, password, "client_secret_basic"
    )
    if (raw.client_id, raw.proof) == (creds.client_id, creds.proof):
        return creds
    return dataclasses.replace(creds, raw=raw)

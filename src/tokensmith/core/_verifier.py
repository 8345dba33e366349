"""Verifying signed tokens against an issuer's published keys, sync or async.

A :class:`Verifier` knows the issuer's JWKS (found through discovery or given as a URL), caches
it, refetches it when a token names an unknown key (at most once per ``refetch_interval``, so a
flood of bad tokens cannot hammer the issuer) and remembers verified tokens by digest until
they expire, so that a repeated token costs microseconds. With :class:`Introspection` it also asks
the token service (RFC 7662) whether the token was revoked, with a short cache.

The protected API's check (``tokensmith.resource``) and the service's checks of client assertions
and external tokens (``tokensmith.server``) both use it. The logic is one flow (see ``_flow``);
:meth:`Verifier.verify` and :meth:`Verifier.averify` only drive it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import ssl
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from ..oauth import (
    ALGORITHMS,
    MAX_PROOF_AGE,
    Clock,
    InvalidDPoPProof,
    InvalidToken,
    Nonces,
    PublicKeys,
    TokensmithError,
    UnknownKey,
    UseDPoPNonce,
    check_proof,
    proof_nonce,
    verify_jwt_access_token,
)
from ._clients import AsyncClients
from ._drive import run_async, run_sync
from ._flight import SingleFlight
from ._flow import Flow, HTTPRequest, HTTPResponse, Join, Send, TransportFailure, Wait

log = logging.getLogger("tokensmith.verifier")

Claims = dict[str, Any]

_ACCEPT_JSON = {"Accept": "application/json"}


def bound_key(claims: Claims) -> str | None:
    """The thumbprint of the key a DPoP-bound token is bound to (``cnf.jkt``); None for a
    bearer token."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


class VerifierUnavailable(TokensmithError):
    """The issuer's keys (or its introspection endpoint) cannot be had, so no token can be
    checked; a protected API answers 503."""


@dataclass(frozen=True)
class Introspection:
    """Ask the token service about every token (RFC 7662), for revocation to take effect.

    Answers are cached ``cache_ttl`` seconds per token; the client authenticates with its
    credentials (``client_secret_post``).
    """

    url: str
    client_id: str
    client_secret: str = field(repr=False)
    cache_ttl: float = 10.0


class Verifier:
    """Checks RFC 9068 JWT access tokens: signature against the issuer's JWKS, then ``typ``,
    ``iss``, ``aud``, ``exp``, ``nbf`` and ``iat`` with a small ``leeway``.

    One verifier serves threads and tasks (asyncio or trio) at once: a JWKS refetch is made by
    one caller while the others wait for it.

    Args:
        issuer: the issuer URL; its discovery document gives the JWKS URL, and ``iss`` must match.
        jwks_url: the JWKS URL (instead of, or beside, ``issuer``).
        audience: the ``aud`` this API requires (None: not checked).
        algorithms: accepted signing algorithms; ``none`` and HMAC are never accepted.
        leeway: seconds of clock tolerance.
        refetch_interval: least time between two JWKS fetches.
        jwks_max_age: refetch the JWKS on the next verification once it is this old.
        introspection: also ask the token service whether the token is active.
        jwks: fixed keys (a JWKS document) instead of fetched ones.
        typ: accepted ``typ`` header values (None: not checked, e.g. for ID tokens).
        cache_size: verified tokens remembered (and DPoP proofs, ten times as many).
        timeout: seconds for each HTTP request.
        clock: the time, for tests.
        dpop_nonce_secret: ask DPoP proofs for nonces made with this key (RFC 9449 §9); the
            same key in every instance of the API.
        ca_file: a PEM CA bundle to check the issuer's certificate with (a private CA, as a
            Kubernetes cluster's); default: the system's store.

    Raises:
        ValueError: no issuer, JWKS URL or JWKS given; a refused algorithm; an unusable ``jwks``.
    """

    def __init__(
        self,
        *,
        issuer: str | None = None,
        jwks_url: str | None = None,
        audience: str | None = None,
        algorithms: Collection[str] = ALGORITHMS,
        leeway: float = 30.0,
        refetch_interval: float = 5.0,
        jwks_max_age: float = 300.0,
        introspection: Introspection | None = None,
        jwks: object | None = None,
        typ: Collection[str] | None = ("at+jwt", "application/at+jwt"),
        cache_size: int = 10_000,
        timeout: float = 5.0,
        clock: Clock = time.time,
        dpop_nonce_secret: bytes | None = None,
        ca_file: str | None = None,
    ) -> None:
        if issuer is None and jwks_url is None and jwks is None:
            raise ValueError("give issuer=, jwks_url= or jwks=")
        bad = {a for a in algorithms if a.lower() == "none" or a.upper().startswith("HS")}
        if bad:
            raise ValueError(f"algorithms {sorted(bad)} are refused for access tokens")
        self.issuer = issuer.rstrip("/") if issuer else None
        self.jwks_url = jwks_url
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.refetch_interval = refetch_interval
        self.jwks_max_age = jwks_max_age
        self.introspection = introspection
        self.cache_size = cache_size
        self.timeout = timeout
        self.clock = clock
        self.typ = typ
        self.keys: PublicKeys | None = None
        self.jwks_fetches = 0
        self._fetched_at = float("-inf")
        self._static = jwks is not None
        if jwks is not None:
            self.keys = PublicKeys.from_jwks(jwks)
        self._tried_at = float("-inf")
        self._verified: dict[bytes, tuple[Claims, float]] = {}
        self._introspected: dict[bytes, tuple[bool, float]] = {}
        self._fetches = SingleFlight()
        self._http: httpx.Client | None = None
        self.ca_file = ca_file
        self._ahttp = AsyncClients(
            lambda: httpx.AsyncClient(timeout=self.timeout, verify=self._tls())
        )
        self._nonces = Nonces(dpop_nonce_secret) if dpop_nonce_secret is not None else None
        self._proofs_seen: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"Verifier(issuer={self.issuer!r}, audience={self.audience!r})"

    # --- the drivers ---------------------------------------------------------------------------

    def verify(self, token: str) -> Claims:
        """The claims of a valid token.

        Raises:
            InvalidToken: the token is malformed, forged, expired, for another audience or
                issuer, or revoked (with introspection); the description says which.
            VerifierUnavailable: the issuer's keys (or the introspection endpoint) cannot be
                reached.
            WouldDeadlock: called on an event loop's thread while a task of that loop fetches
                the keys; use :meth:`averify` in async code.
        """
        now = self.clock()
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._known(digest, now)  # the hot path: no flow for a remembered token
        if claims is not None:
            return claims
        return run_sync(self._verify_flow(token, digest, now), self._sync_http)

    async def averify(self, token: str) -> Claims:
        """As :meth:`verify`, without blocking the event loop."""
        now = self.clock()
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._known(digest, now)
        if claims is not None:
            return claims
        return await run_async(self._verify_flow(token, digest, now), self._ahttp.get)

    def _sync_http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout, verify=self._tls())
        return self._http

    def _tls(self) -> ssl.SSLContext | bool:
        """How the issuer's certificate is checked: against ``ca_file`` when given (a private
        CA, as a Kubernetes cluster's), else the system's store. A CA file that cannot be read
        trusts no certificate at all, so that fetching the keys fails (and says so in the log)
        rather than trusting the system's store instead."""
        if self.ca_file is None:
            return True
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            log.warning("cannot read the CA file %s (%s)", self.ca_file, type(exc).__name__)
            return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, against no CA

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self._ahttp.aclose()
        self.close()

    def close(self) -> None:
        """Close the sync HTTP client."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def check_dpop(
        self, claims: Claims, token: str, proofs: Sequence[str], *, method: str, url: str
    ) -> None:
        """Check the DPoP proof of a request made with a DPoP-bound token (RFC 9449 §7.1):
        exactly one proof, valid for ``method`` and ``url``, with ``ath`` the hash of ``token``,
        made with the key of the token's ``cnf.jkt``, not seen before (within this verifier),
        with this API's nonce when it asks for one.

        Raises:
            InvalidDPoPProof: (401) the proof is missing, refused or replayed.
            UseDPoPNonce: (401) the proof lacks this API's current nonce.
            InvalidToken: the token is not DPoP-bound.
        """
        jkt = bound_key(claims)
        if jkt is None:
            raise InvalidToken("the token is not DPoP-bound; send it as 'Bearer <token>'")
        if len(proofs) != 1:
            raise InvalidDPoPProof(
                "a DPoP-bound token needs exactly one DPoP proof header", status_code=401
            )
        now = self.clock()
        if self._nonces is not None and not self._nonces.valid(proof_nonce(proofs[0]), now):
            raise UseDPoPNonce(
                "send the DPoP proof again with the nonce of the DPoP-Nonce header",
                nonce=self._nonces.current(now),
                status_code=401,
            )
        try:
            proof = check_proof(proofs[0], method=method, url=url, now=now, access_token=token)
        except InvalidDPoPProof as exc:
            raise InvalidDPoPProof(exc.description, status_code=401) from None
        if proof.jkt != jkt:
            raise InvalidDPoPProof(
                "the DPoP proof was made with another key than the token is bound to (cnf.jkt)",
                status_code=401,
            )
        expires = proof.iat + MAX_PROOF_AGE + self.leeway
        seen = f"{proof.jkt}:{proof.jti}"
        if self._proofs_seen.setdefault(seen, expires) is not expires:  # atomic under the GIL
            raise InvalidDPoPProof("the DPoP proof was already used (its jti)", status_code=401)
        if len(self._proofs_seen) > 10 * self.cache_size:
            self._forget_proofs(now)

    def _forget_proofs(self, now: float) -> None:
        """Drop the proofs too old to be accepted again; if too many are still young, the oldest
        half (a flood must not grow memory without bound)."""
        seen = self._proofs_seen
        for key in [k for k, expires in list(seen.items()) if expires < now]:
            seen.pop(key, None)
        if len(seen) > 10 * self.cache_size:
            for key in list(seen)[: len(seen) // 2]:
                seen.pop(key, None)

    # --- the flow ------------------------------------------------------------------------------

    def _known(self, digest: bytes, now: float) -> Claims | None:
        """The claims of a token verified before, when nothing needs asking.

        Raises:
            InvalidToken: introspection said lately that the token is not active.
        """
        claims = self._remembered(digest, now)
        if claims is None or self.introspection is None:
            return claims
        active = self._introspection_cached(digest, now)
        if active is False:
            raise InvalidToken("the token is not active (revoked or expired)")
        return claims if active else None

    def _verify_flow(self, token: str, digest: bytes, now: float) -> Flow[Claims]:
        claims = self._remembered(digest, now)
        if claims is None:
            claims = yield from self._fresh_flow(token, now)
            self._remember(digest, claims)
        if self.introspection is not None:
            active = self._introspection_cached(digest, now)
            if active is False:
                raise InvalidToken("the token is not active (revoked or expired)")
            if active is None:
                yield from self._introspect_flow(token, digest, now)
        return claims

    def _fresh_flow(self, token: str, now: float) -> Flow[Claims]:
        # Fetch when the keys are missing or stale; fetch once more if the kid is unknown.
        for unknown_key in (False, True):
            gap = self._fetch_gap(now, unknown_key=unknown_key)
            if gap is not None:
                yield from self._fetch_flow(now, gap)
            elif unknown_key:
                break
            try:
                return self._check(token, now)
            except UnknownKey:
                continue
        raise UnknownKey("the token was signed with a key the issuer does not publish")

    def _fetch_gap(self, now: float, *, unknown_key: bool) -> float | None:
        """The least time since the last fetch before another may start, or None when the keys
        need no fetch."""
        if self._static:
            return None
        if self.keys is None or now - self._fetched_at > self.jwks_max_age:
            return min(1.0, self.refetch_interval)
        return self.refetch_interval if unknown_key else None

    def _fetch_flow(self, now: float, gap: float) -> Flow[None]:
        """Fetch the JWKS, unless one was tried less than ``gap`` seconds ago, once for every
        caller that needs it at the same time: callers that come during a fetch wait for it
        (a flood of tokens with unknown keys cannot make more than one fetch per ``gap``), and
        its failure is theirs when no earlier keys are left to serve."""
        while True:
            if self._fetches.idle and now - self._tried_at < gap:
                self._no_keys_yet()
                return
            flight, leader = yield Join(self._fetches)
            if leader:
                break
            yield Wait(flight)
            if flight.value is not None or flight.error is not None:
                flight.outcome()
                return
            # The leader was cancelled before it had an outcome: lead, or follow the next one.
        tried_before = self._tried_at
        try:
            if now - self._tried_at >= gap:  # else another leader has just fetched
                self._tried_at = now
                yield from self._fetch_keys_flow(now)
            self._no_keys_yet()
            flight.value = True
        except VerifierUnavailable as exc:
            flight.error = exc
            raise
        except BaseException:  # cancelled mid-fetch: the next caller may try at once
            self._tried_at = tried_before
            raise
        finally:
            self._fetches.finish(flight)

    def _no_keys_yet(self) -> None:
        if self.keys is None:
            raise VerifierUnavailable("the issuer's keys could not be fetched; retry shortly")

    def _fetch_keys_flow(self, now: float) -> Flow[None]:
        try:
            if self.jwks_url is None:
                assert self.issuer is not None  # the constructor wants one of the two
                discovery = f"{self.issuer}/.well-known/openid-configuration"
                answer = _json_answer((yield Send(_get(discovery))))
                uri = answer.get("jwks_uri") if isinstance(answer, dict) else None
                if not isinstance(uri, str):
                    raise ValueError("the discovery document names no jwks_uri")
                self.jwks_url = uri
            document = _json_answer((yield Send(_get(self.jwks_url))))
            keys = PublicKeys.from_jwks(document)
        except (TransportFailure, ValueError) as exc:
            if self.keys is None:
                raise VerifierUnavailable(
                    f"cannot fetch the issuer's keys ({type(exc).__name__})"
                ) from None
            return  # keep serving the keys fetched before
        self.keys = keys
        self._fetched_at = now
        self.jwks_fetches += 1

    def _introspect_flow(self, token: str, digest: bytes, now: float) -> Flow[None]:
        introspection = self.introspection
        assert introspection is not None
        form = {
            "token": token,
            "client_id": introspection.client_id,
            "client_secret": introspection.client_secret,
        }
        request = HTTPRequest(
            introspection.url,
            {**_ACCEPT_JSON, "Content-Type": "application/x-www-form-urlencoded"},
            urlencode(form).encode(),
        )
        try:
            response: HTTPResponse = yield Send(request)
            answer = json.loads(response.body)
        except (TransportFailure, ValueError) as exc:
            raise VerifierUnavailable(
                f"cannot reach the introspection endpoint ({type(exc).__name__})"
            ) from None
        if response.status_code != 200 or not isinstance(answer, dict):
            raise VerifierUnavailable(
                f"the introspection endpoint answered HTTP {response.status_code}"
            )
        active = answer.get("active") is True
        while self._introspected and len(self._introspected) >= max(1, self.cache_size):
            _evict_oldest(self._introspected)
        self._introspected[digest] = (active, now + introspection.cache_ttl)
        if not active:
            raise InvalidToken("the token is not active (revoked or expired)")

    # --- state ---------------------------------------------------------------------------------

    def _remembered(self, digest: bytes, now: float) -> Claims | None:
        entry = self._verified.get(digest)
        if entry is None:
            return None
        claims, exp = entry
        if now >= exp + self.leeway:
            self._verified.pop(digest, None)
            return None
        return claims

    def _remember(self, digest: bytes, claims: Claims) -> None:
        if self.cache_size <= 0:
            return
        while len(self._verified) >= self.cache_size:
            _evict_oldest(self._verified)
        self._verified[digest] = (claims, float(claims["exp"]))

    def _check(self, token: str, now: float) -> Claims:
        if self.keys is None:
            raise UnknownKey("no keys yet")
        return verify_jwt_access_token(
            token,
            self.keys,
            algorithms=self.algorithms,
            issuer=self.issuer,
            audience=self.audience,
            now=now,
            leeway=self.leeway,
            typ=self.typ,
        )

    def _introspection_cached(self, digest: bytes, now: float) -> bool | None:
        entry = self._introspected.get(digest)
        if entry is None or now >= entry[1]:
            return None
        return entry[0]


def _evict_oldest(cache: dict[bytes, Any]) -> None:
    """Drop the oldest entry; threads may be evicting at the same time."""
    with contextlib.suppress(StopIteration, RuntimeError):  # emptied or resized meanwhile
        cache.pop(next(iter(cache)), None)


def _get(url: str) -> HTTPRequest:
    return HTTPRequest(url, _ACCEPT_JSON, b"", "GET")


def _json_answer(response: HTTPResponse) -> object:
    """The JSON body of a 2xx answer.

    Raises:
        ValueError: another status, or a body that is not JSON.
    """
    if not 200 <= response.status_code < 300:
        raise ValueError(f"HTTP {response.status_code}")
    return json.loads(response.body)

"""Verifying bearer tokens for a protected API.

A :class:`Verifier` knows the issuer's JWKS (found through discovery or given as a URL), caches
it, refetches it when a token names an unknown key (at most once per ``refetch_interval``, so a
flood of bad tokens cannot hammer the token service) and remembers verified tokens by digest until
they expire, so that a repeated token costs microseconds. With :class:`Introspection` it also asks
the token service (RFC 7662) whether the token was revoked, with a short cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..oauth import (
    ALGORITHMS,
    Clock,
    InvalidToken,
    PublicKeys,
    TokensmithError,
    UnknownKey,
    verify_jwt_access_token,
)

Claims = dict[str, Any]


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
        cache_size: verified tokens remembered.
        clock: the time, for tests.
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
        self._lock = threading.Lock()
        self._alock: asyncio.Lock | None = None
        self._http: httpx.Client | None = None
        self._ahttp: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        return f"Verifier(issuer={self.issuer!r}, audience={self.audience!r})"

    # --- the core: no I/O ----------------------------------------------------------------------

    def _remembered(self, digest: bytes, now: float) -> Claims | None:
        entry = self._verified.get(digest)
        if entry is None:
            return None
        claims, exp = entry
        if now >= exp + self.leeway:
            del self._verified[digest]
            return None
        return claims

    def _remember(self, digest: bytes, claims: Claims) -> None:
        if self.cache_size <= 0:
            return
        while len(self._verified) >= self.cache_size:
            del self._verified[next(iter(self._verified))]
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

    def _needs_fetch(self, now: float, *, unknown_key: bool) -> bool:
        if self._static:
            return False
        if self.keys is None or now - self._fetched_at > self.jwks_max_age:
            return now - self._tried_at >= min(1.0, self.refetch_interval)
        return unknown_key and now - self._tried_at >= self.refetch_interval

    def _accept_jwks(self, document: object, now: float) -> None:
        try:
            self.keys = PublicKeys.from_jwks(document)
        except ValueError as exc:
            raise VerifierUnavailable(f"the JWKS at {self.jwks_url} is not usable: {exc}") from None
        self._fetched_at = now
        self.jwks_fetches += 1

    def _introspection_cached(self, digest: bytes, now: float) -> bool | None:
        entry = self._introspected.get(digest)
        if entry is None or now >= entry[1]:
            return None
        return entry[0]

    def _introspection_form(self, token: str) -> dict[str, str]:
        assert self.introspection is not None
        return {
            "token": token,
            "client_id": self.introspection.client_id,
            "client_secret": self.introspection.client_secret,
        }

    def _introspection_result(
        self, digest: bytes, status: int, answer: object, now: float
    ) -> Claims:
        assert self.introspection is not None
        if status != 200 or not isinstance(answer, dict):
            raise VerifierUnavailable(f"the introspection endpoint answered HTTP {status}")
        active = answer.get("active") is True
        while self._introspected and len(self._introspected) >= max(1, self.cache_size):
            del self._introspected[next(iter(self._introspected))]
        self._introspected[digest] = (active, now + self.introspection.cache_ttl)
        if not active:
            raise InvalidToken("the token is not active (revoked or expired)")
        return answer

    # --- sync driver ---------------------------------------------------------------------------

    def verify(self, token: str) -> Claims:
        """The claims of a valid token.

        Raises:
            InvalidToken: the token is malformed, forged, expired, for another audience or
                issuer, or revoked (with introspection); the description says which.
            VerifierUnavailable: the issuer's keys cannot be fetched.
        """
        now = self.clock()
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._remembered(digest, now)
        if claims is None:
            claims = self._verify_fresh(token, now)
            self._remember(digest, claims)
        if self.introspection is not None:
            active = self._introspection_cached(digest, now)
            if active is False:
                raise InvalidToken("the token is not active (revoked or expired)")
            if active is None:
                self._introspect_sync(token, digest, now)
        return claims

    def _verify_fresh(self, token: str, now: float) -> Claims:
        # Fetch when the keys are missing or stale; fetch once more if the kid is unknown.
        for unknown_key in (False, True):
            if self._needs_fetch(now, unknown_key=unknown_key):
                self._fetch_sync(now)
            elif unknown_key:
                break
            try:
                return self._check(token, now)
            except UnknownKey:
                continue
        raise UnknownKey("the token was signed with a key the issuer does not publish")

    def _fetch_sync(self, now: float) -> None:
        with self._lock:
            if self._tried_at >= now:
                return
            self._tried_at = now
            if self._http is None:
                self._http = httpx.Client(timeout=self.timeout)
            try:
                if self.jwks_url is None:
                    self.jwks_url = _jwks_uri(self._http.get(_discovery(self.issuer)))
                self._accept_jwks(self._http.get(self.jwks_url).json(), now)
            except (httpx.HTTPError, ValueError) as exc:
                if self.keys is None:
                    raise VerifierUnavailable(
                        f"cannot fetch the issuer's keys ({type(exc).__name__})"
                    ) from None

    def _introspect_sync(self, token: str, digest: bytes, now: float) -> None:
        assert self.introspection is not None
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout)
        try:
            response = self._http.post(self.introspection.url, data=self._introspection_form(token))
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise VerifierUnavailable(
                f"cannot reach the introspection endpoint ({type(exc).__name__})"
            ) from None
        self._introspection_result(digest, response.status_code, answer, now)

    # --- async driver --------------------------------------------------------------------------

    async def averify(self, token: str) -> Claims:
        """As :meth:`verify`, without blocking the event loop."""
        now = self.clock()
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._remembered(digest, now)
        if claims is None:
            claims = await self._averify_fresh(token, now)
            self._remember(digest, claims)
        if self.introspection is not None:
            active = self._introspection_cached(digest, now)
            if active is False:
                raise InvalidToken("the token is not active (revoked or expired)")
            if active is None:
                await self._aintrospect(token, digest, now)
        return claims

    async def _averify_fresh(self, token: str, now: float) -> Claims:
        # Fetch when the keys are missing or stale; fetch once more if the kid is unknown.
        for unknown_key in (False, True):
            if self._needs_fetch(now, unknown_key=unknown_key):
                await self._afetch(now)
            elif unknown_key:
                break
            try:
                return self._check(token, now)
            except UnknownKey:
                continue
        raise UnknownKey("the token was signed with a key the issuer does not publish")

    async def _afetch(self, now: float) -> None:
        if self._alock is None:
            self._alock = asyncio.Lock()
        async with self._alock:
            if self._tried_at >= now:
                return
            self._tried_at = now
            if self._ahttp is None:
                self._ahttp = httpx.AsyncClient(timeout=self.timeout)
            try:
                if self.jwks_url is None:
                    self.jwks_url = _jwks_uri(await self._ahttp.get(_discovery(self.issuer)))
                self._accept_jwks((await self._ahttp.get(self.jwks_url)).json(), now)
            except (httpx.HTTPError, ValueError) as exc:
                if self.keys is None:
                    raise VerifierUnavailable(
                        f"cannot fetch the issuer's keys ({type(exc).__name__})"
                    ) from None

    async def _aintrospect(self, token: str, digest: bytes, now: float) -> None:
        assert self.introspection is not None
        if self._ahttp is None:
            self._ahttp = httpx.AsyncClient(timeout=self.timeout)
        try:
            response = await self._ahttp.post(
                self.introspection.url, data=self._introspection_form(token)
            )
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise VerifierUnavailable(
                f"cannot reach the introspection endpoint ({type(exc).__name__})"
            ) from None
        self._introspection_result(digest, response.status_code, answer, now)

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        if self._ahttp is not None:
            await self._ahttp.aclose()
            self._ahttp = None
        self.close()

    def close(self) -> None:
        """Close the sync HTTP client."""
        if self._http is not None:
            self._http.close()
            self._http = None


def _discovery(issuer: str | None) -> str:
    assert issuer is not None
    return f"{issuer}/.well-known/openid-configuration"


def _jwks_uri(response: httpx.Response) -> str:
    response.raise_for_status()
    uri = response.json().get("jwks_uri")
    if not isinstance(uri, str):
        raise ValueError("the discovery document names no jwks_uri")
    return uri

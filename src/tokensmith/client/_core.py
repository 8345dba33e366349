"""The client's core, without I/O: the token it holds, when to renew it, and the requests to send.

:meth:`TokenCore.fetch_flow` is a flow (see ``tokensmith.core``): it *yields instructions* (send
this request, sleep this long, call this function) and receives their results, and the drivers
``run_sync`` and ``run_async`` only carry them out. So retries, fallbacks and the shared cache are
written once, and the sync and async paths cannot drift apart.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import quote, quote_plus, urlencode

from ..core import (
    Call,
    Flow,
    HTTPRequest,
    HTTPResponse,
    Send,
    Sleep,
    TraceSpan,
    Tracing,
    TransportFailure,
)
from ..oauth import (
    Clock,
    InvalidGrant,
    OAuthError,
    ProofKey,
    Signer,
    error_from_response,
    sha256_hex,
)
from ._dialect import Dialect, parse_token_response
from ._errors import ConfigurationError, TokenEndpointUnavailable
from ._grants import Attempt, Grant
from ._options import Retry, Stats, TokenCache, default_margin
from ._token import Secret, Token

log = logging.getLogger("tokensmith.client")

AuthMethod = Literal[
    "client_secret_post", "client_secret_basic", "private_key_jwt", "federated", "none"
]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
REFUSAL_COOLDOWN = 30.0
"""Seconds without a new token after an API refused a freshly fetched one too."""


class TokenCore:
    """The token held, when it is due, and the flow that gets a new one."""

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str | None,
        client_secret: Secret | None,
        grant: Grant,
        auth_method: AuthMethod,
        dialect: Dialect,
        default_ttl: float | None,
        margin: float | Callable[[float], float] | None,
        retry: Retry,
        cache: TokenCache | None,
        cache_lock_timeout: float,
        clock: Clock,
        rng: random.Random,
        on_event: Callable[[str, Mapping[str, object]], None] | None,
        assertion_signer: Signer | None = None,
        tracing: Tracing | None = None,
        dpop: ProofKey | None = None,
        platform_token: Callable[[], str] | None = None,
    ) -> None:
        if not token_url.startswith(("https://", "http://")):
            raise ConfigurationError(f"token_url must be an http(s) URL, not {token_url!r}")
        if auth_method == "private_key_jwt":
            if client_id is None or assertion_signer is None:
                raise ConfigurationError("private_key_jwt needs client_id and private_key")
        elif auth_method == "federated":
            if platform_token is None or client_secret is not None:
                raise ConfigurationError("federated needs platform_token and no client_secret")
        elif auth_method != "none" and (client_id is None or client_secret is None):
            raise ConfigurationError(
                f"{auth_method} needs client_id and client_secret (use auth_method='none' for a "
                "public client)"
            )
        self.assertion_signer = assertion_signer
        self.dpop = dpop
        """The key DPoP proofs are made with (RFC 9449); None: Bearer tokens."""
        self.dpop_nonce: str | None = None
        """The token endpoint's latest DPoP nonce, sent with the next proof."""
        self.platform_token = platform_token
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.grant = grant
        self.auth_method = auth_method
        self.dialect = dialect
        self.default_ttl = default_ttl
        self.margin = margin
        self.retry = retry
        self.cache = cache
        self.cache_lock_timeout = cache_lock_timeout
        self.clock = clock
        self.rng = rng
        self.on_event = on_event
        self.tracing = tracing
        self.stats = Stats()
        self.token: Token | None = None
        self.renew_at = float("-inf")
        self._rejected: str | None = None
        self._refused = False  # the held token was refused by an API (invalidated)
        self._replaced_refused = False  # the held token was fetched to replace a refused one
        self._refusals_ignored_until = float("-inf")
        self.cache_key = shared_cache_key(token_url, client_id, auth_method, grant)

    def __repr__(self) -> str:
        return f"TokenCore({self.token_url!r}, client_id={self.client_id!r}, token={self.token!r})"

    # --- what the hot path asks -------------------------------------------------------------

    def usable(self, now: float) -> Token | None:
        """The held token if it has not expired (it may be due for renewal)."""
        token = self.token
        return token if token is not None and now < token.expires_at else None

    def renew_time(self, token: Token) -> float:
        """When ``token`` is due: its expiry less the margin."""
        margin = self.margin
        if margin is None:
            margin = default_margin(token.lifetime)
        elif callable(margin):
            margin = margin(token.lifetime)
        return token.expires_at - min(float(margin), token.lifetime)

    def accept(self, token: Token, *, renewed: bool) -> None:
        """Hold ``token`` from now on."""
        self.token = token
        self.renew_at = self.renew_time(token)
        self._rejected = None
        self._replaced_refused, self._refused = self._refused, False
        if renewed:
            self.stats.renewals += 1
        self._event(
            "fetch", token=token.fingerprint, expires_in=round(token.expires_at - self.clock())
        )

    def failed(self, exc: BaseException, now: float) -> Token | None:
        """Note a failed renewal; returns the token to keep serving, if one is still valid, and
        waits a little before the next try so that callers do not hammer a failing endpoint."""
        self.stats.failures += 1
        usable = self.usable(now)
        self._event("failure", error=type(exc).__name__, serving=usable is not None)
        if usable is not None:
            wait = min(5.0, (usable.expires_at - now) / 4)
            if isinstance(exc, TokenEndpointUnavailable) and exc.retry_after is not None:
                wait = max(wait, exc.retry_after)  # what Retry-After asked, or the backoff
            self.renew_at = min(usable.expires_at, now + wait)
            log.warning(
                "token renewal failed (%s); still serving token %s for %.0f s",
                type(exc).__name__,
                usable.fingerprint,
                usable.expires_at - now,
            )
        return usable

    def invalidate(self, access_token: str) -> bool:
        """Drop the held access token if it is ``access_token`` (an API answered 401 to it);
        the refresh token is kept. False when a newer token is already held, or when the API
        refused the very token fetched to replace a refused one: it refuses every token (a
        wrong audience, say), so the token is kept and no new one fetched for
        :data:`REFUSAL_COOLDOWN` seconds, rather than one per request."""
        token = self.token
        if token is None or token.access_token != access_token:
            return False
        now = self.clock()
        if now < self._refusals_ignored_until:
            return False
        if self._replaced_refused:
            self._replaced_refused = False
            self._refusals_ignored_until = now + REFUSAL_COOLDOWN
            log.warning(
                "the API refused a freshly fetched token too; fetching no new one for %.0f s",
                REFUSAL_COOLDOWN,
            )
            return False
        self.token = replace(token, expires_at=min(token.expires_at, now))
        self.renew_at = float("-inf")
        self._rejected = access_token
        self._refused = True
        self.stats.unauthorized_retries += 1
        self._event("unauthorized", token=token.fingerprint)
        return True

    def _event(self, name: str, **attrs: object) -> None:
        if name == "fetch":
            self.stats.fetches += 1
        if self.on_event is not None:
            try:
                self.on_event(name, attrs)
            except Exception:
                log.exception("on_event hook failed")

    # --- the flow ----------------------------------------------------------------------------

    def fetch_flow(self) -> Flow[Token]:
        """Get a new token: from the shared cache if another process renewed it, else from the
        token endpoint under the shared cache's lock. With tracing on, in a ``fetch token``
        span whose children are the token requests."""
        if self.tracing is None:
            return (yield from self._fetch_flow(None))
        span = self.tracing.start(
            "fetch token",
            {"tokensmith.grant": self.grant.name, "tokensmith.renewal": self.token is not None},
        )
        try:
            token = yield from self._fetch_flow(span)
        except Exception as exc:
            oauth = exc.error if isinstance(exc, OAuthError) else None
            span.fail(oauth or type(exc).__name__, oauth)
            raise
        else:
            # Only once the server accepted it, as the service records it: a client id and
            # secret swapped by mistake must not put the secret in a trace.
            if self.client_id is not None:
                span.set("tokensmith.client_id", self.client_id)
        finally:
            span.end()
        return token

    def _fetch_flow(self, span: TraceSpan | None) -> Flow[Token]:
        if self.cache is None:
            return (yield from self._request_flow(span))
        cached: Token | None = yield Call(self.cache.load, (self.cache_key,))
        if cached is not None and self._shared_fresh(cached):
            return _from_shared_cache(cached, span)
        handle = yield Call(
            self.cache.acquire,
            (self.cache_key, self.cache_lock_timeout),
            undo=self._release_abandoned,
        )
        try:
            cached = yield Call(self.cache.load, (self.cache_key,))
            if cached is not None and self._shared_fresh(cached):
                return _from_shared_cache(cached, span)
            token = yield from self._request_flow(span)
            yield Call(self.cache.store, (self.cache_key, token))
            return token
        finally:
            if handle is not None:
                yield Call(self.cache.release, (handle,), inline=True)

    def _release_abandoned(self, handle: object) -> None:
        if handle is not None and self.cache is not None:
            self.cache.release(handle)

    def _shared_fresh(self, token: Token) -> bool:
        if token.access_token == self._rejected:
            return False
        if self.token is not None and token.access_token == self.token.access_token:
            return False
        if self.clock() < self.renew_time(token):
            self.stats.shared_cache_hits += 1
            return True
        return False

    def _request_flow(self, span: TraceSpan | None) -> Flow[Token]:
        attempts = list(self.grant.attempts(self.token, self.clock()))
        for index, attempt in enumerate(attempts):
            try:
                return (yield from self._attempt_flow(attempt, span))
            except InvalidGrant:
                if not attempt.fallback or index == len(attempts) - 1:
                    raise
                log.info("%s was refused (invalid_grant); falling back", attempt.describe)
        raise ConfigurationError("the grant produced no request")

    def _attempt_flow(self, attempt: Attempt, span: TraceSpan | None) -> Flow[Token]:
        form: dict[str, str | tuple[str, ...]] = {}
        for name, value in attempt.form.items():
            if callable(value):
                supplied = yield Call(value)
                if not isinstance(supplied, str) or not supplied:
                    raise ConfigurationError(f"the supplier of {name!r} returned no string")
                form[name] = supplied
            else:
                form[name] = value
        if self.platform_token is not None:
            # Fetched for each request: a platform may make every token single-use (GitHub).
            supplied = yield Call(self.platform_token)
            if not isinstance(supplied, str) or not supplied:
                raise ConfigurationError("the platform token source returned no string")
            form["client_assertion_type"] = getattr(
                self.platform_token, "assertion_type", ASSERTION_TYPE
            )
            form["client_assertion"] = supplied
        hidden = [v for k, v in form.items() if k != "grant_type" and isinstance(v, str)]
        if self.client_secret is not None:
            hidden.append(self.client_secret.reveal())
            if self.auth_method == "client_secret_basic":
                hidden.append(self._basic_credentials())
        nonce_retried = False
        for n in range(1, self.retry.attempts + 1):
            sent_at = self.clock()  # expires_in counts from the request, not from the answer
            status: int | None = None
            # Built per try: a private_key_jwt assertion is used once (its jti).
            request = self._build(form)
            sending = None
            if span is not None and self.tracing is not None:
                sending, request = self.tracing.send(span, request, _request_attributes(form, n))
            try:
                response: HTTPResponse = yield Send(request)
            except TransportFailure as exc:
                wait = self._backoff(n)
                failure = f"cannot reach the token endpoint {self.token_url} ({n} tries): {exc}"
                if sending is not None:
                    sending.fail(str(exc))  # the httpx error's class name
                    sending.end()
            except BaseException as exc:  # cancelled, or an error the flow does not handle
                if sending is not None:
                    sending.fail(type(exc).__name__)
                    sending.end()
                raise
            else:
                if self._nonce_asked(response) and not nonce_retried:
                    # RFC 9449 §8: the server wants its nonce in the proof; send again at once.
                    nonce_retried = True
                    response = yield Send(self._build(form))
                    self._nonce_asked(response)
                status = response.status_code
                if sending is not None:
                    _record_answer(sending, response)
                if 200 <= status < 300:
                    return parse_token_response(
                        response.body,
                        dialect=self.dialect,
                        now=sent_at,
                        date_header=response.headers.get("date"),
                        default_ttl=self.default_ttl,
                    )
                if status != 429 and status < 500:
                    raise _redacted(error_from_response(status, _json(response.body)), hidden)
                wait = self._retry_after(response) or self._backoff(n)
                failure = f"the token endpoint {self.token_url} answered HTTP {status} ({n} tries)"
            # With a valid token held, the caller gets it back now rather than wait out the
            # retries; the next try comes after ``wait`` (see ``failed``).
            if n == self.retry.attempts or self.usable(self.clock()) is not None:
                raise TokenEndpointUnavailable(failure, status_code=status, retry_after=wait)
            yield Sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _build(self, form: dict[str, str | tuple[str, ...]]) -> HTTPRequest:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        body = dict(form)
        if self.auth_method == "client_secret_basic":
            assert self.client_id is not None
            assert self.client_secret is not None
            headers["Authorization"] = "Basic " + self._basic_credentials()
        elif self.auth_method == "private_key_jwt":
            assert self.client_id is not None
            assert self.assertion_signer is not None
            now = int(self.clock())
            body["client_id"] = self.client_id
            body["client_assertion_type"] = ASSERTION_TYPE
            body["client_assertion"] = self.assertion_signer.sign(
                {
                    "iss": self.client_id,
                    "sub": self.client_id,
                    "aud": self.token_url,
                    "iat": now,
                    "exp": now + 60,
                    "jti": secrets.token_urlsafe(16),
                }
            )
        else:
            if self.client_id is not None:
                body["client_id"] = self.client_id
            if self.auth_method == "client_secret_post" and self.client_secret is not None:
                body["client_secret"] = self.client_secret.reveal()
        if self.dpop is not None:  # a fresh proof per request: its jti is single-use
            headers["DPoP"] = self.dpop.proof(
                "POST", self.token_url, now=self.clock(), nonce=self.dpop_nonce
            )
        return HTTPRequest(self.token_url, headers, urlencode(body, doseq=True).encode())

    def _nonce_asked(self, response: HTTPResponse) -> bool:
        """Keep the DPoP nonce an answer carries; whether the answer is ``use_dpop_nonce``."""
        if self.dpop is None:
            return False
        nonce = response.headers.get("dpop-nonce")
        if not nonce:
            return False
        self.dpop_nonce = nonce
        if response.status_code != 400:
            return False
        body = _json(response.body)
        return isinstance(body, dict) and body.get("error") == "use_dpop_nonce"

    def _basic_credentials(self) -> str:
        assert self.client_id is not None
        assert self.client_secret is not None
        # RFC 6749 §2.3.1: form-encode both parts before Basic encoding; a space as %20, not
        # "+", which form decoders read as a space too and plain percent-decoders (Authlib's
        # server) do not turn into a "+".
        pair = f"{quote(self.client_id, safe='')}:{quote(self.client_secret.reveal(), safe='')}"
        return base64.b64encode(pair.encode()).decode()

    def _backoff(self, n: int) -> float:
        delay = min(self.retry.max_backoff, self.retry.backoff * 2 ** (n - 1))
        return float(delay * (0.5 + self.rng.random() / 2))

    def _retry_after(self, response: HTTPResponse) -> float | None:
        value = response.headers.get("retry-after")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError, IndexError):
                return None
        return max(0.0, min(seconds, self.retry.max_retry_after))


def shared_cache_key(token_url: str, client_id: str | None, auth_method: str, grant: Grant) -> str:
    """The shared-cache key of what a token grants: the endpoint, the client and how it
    authenticates, and every parameter of the grant's request (subject tokens, scope,
    resource, audience), hashed so that no subject token is stored in the clear.

    A supplier's tokens cannot be told apart before they are supplied, so a grant with one gets
    a key of its own (a random part): two sources never share a token meant for two subjects.
    """
    parts = [token_url, client_id or "", auth_method, grant.name]
    for attempt in grant.attempts(None, 0.0):
        for name, value in sorted(attempt.form.items()):
            if callable(value):
                value = "supplier:" + secrets.token_hex(16)
            elif isinstance(value, tuple):
                value = "\x1f".join(value)
            parts.append(f"{name}={value}")
    return sha256_hex("\0".join(parts))[:32]


def _from_shared_cache(token: Token, span: TraceSpan | None) -> Token:
    if span is not None:
        span.set("tokensmith.shared_cache_hit", True)
    return token


def _request_attributes(form: Mapping[str, object], n: int) -> dict[str, str | int]:
    """What a traced token request records beside its URL: the ``grant_type`` it sends, and
    how many times it was sent before (HTTP semantic conventions)."""
    attributes: dict[str, str | int] = {"tokensmith.grant_type": str(form.get("grant_type", ""))}
    if n > 1:
        attributes["http.request.resend_count"] = n - 1
    return attributes


def _record_answer(span: TraceSpan, response: HTTPResponse) -> None:
    """End a token request's span with the answer's status and OAuth error code, if any."""
    if response.status_code >= 400:
        body = _json(response.body)
        code = body.get("error") if isinstance(body, dict) else None
        if isinstance(code, str) and _ERROR_CODE.fullmatch(code):
            span.oauth_error(code)
    span.http_status(response.status_code)
    span.end()


_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
"""An RFC 6749 §5.2 error code as a span may record it: the server's words, never its echo of
what it was sent."""


def _json(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _encodings(secret: str) -> set[str]:
    """``secret`` as the server may echo it: raw, form-encoded, percent-encoded, either case."""
    forms = {secret, quote_plus(secret), quote(secret, safe="")}
    return forms | {_PERCENT.sub(lambda m: m.group().lower(), form) for form in forms}


_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _redacted(err: OAuthError, secrets: list[str]) -> OAuthError:
    """``err`` with any credential the server echoed in its description masked, in every
    encoding we put on the wire."""
    description = err.description
    variants = {form for secret in secrets if len(secret) >= 4 for form in _encodings(secret)}
    for variant in sorted(variants, key=len, reverse=True):
        if variant in description:
            description = description.replace(variant, "***")
    if description != err.description:
        err.description = description
        err.args = (description,)
    return err

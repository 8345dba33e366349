"""Client authentication at the token endpoint (RFC 6749 §2.3.1): ``client_secret_basic`` and
``client_secret_post``."""

from __future__ import annotations

import binascii
from base64 import b64decode
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from ..oauth import Clock, InvalidClient, InvalidRequest, system_clock
from ..store import Client
from ._secrets import SecretChecker
from ._state import RealmState, Registry

METHODS = ("client_secret_basic", "client_secret_post")


@dataclass(frozen=True)
class Credentials:
    """What a client presented to authenticate; ``repr`` never shows the secret."""

    client_id: str
    secret: str = field(repr=False)
    method: str


def credentials(form: dict[str, str], authorization: str | None) -> Credentials:
    """The client credentials of a token request.

    Raises:
        InvalidRequest: the client used two authentication methods at once.
        InvalidClient: no credentials, or unreadable Basic credentials.
    """
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
            if body_id is not None and body_id != creds.client_id:
                raise InvalidRequest("client_id in the body differs from the HTTP Basic user")
            return creds
    client_id = form.get("client_id")
    secret = form.get("client_secret")
    if client_id is None:
        raise InvalidClient(
            "client authentication is required: send client_id and client_secret, or HTTP Basic"
        )
    if secret is None:
        raise InvalidClient(
            "client_secret is missing; every client of this service is confidential"
        )
    return Credentials(client_id, secret, "client_secret_post")


class ClientAuthenticator:
    """Authenticates the client of a request to any realm endpoint (token, introspect, revoke)."""

    def __init__(
        self, registry: Registry, checker: SecretChecker, *, clock: Clock = system_clock
    ) -> None:
        self.registry = registry
        self.checker = checker
        self.clock = clock

    async def authenticate(
        self, state: RealmState, form: dict[str, str], authorization: str | None
    ) -> Client:
        """The enabled client whose credentials the request carries.

        Raises:
            InvalidRequest: two authentication methods at once.
            InvalidClient: missing, unknown or wrong credentials, or a disabled client.
        """
        creds = credentials(form, authorization)
        client = await self.registry.client(state, creds.client_id)
        if client is None or not await self.checker.check(
            creds.secret, client.secrets, self.clock()
        ):
            raise InvalidClient("unknown client or wrong client secret")
        if not client.enabled:
            raise InvalidClient(f"client {client.client_id!r} is disabled")
        return client


def _basic(value: str) -> Credentials:
    try:
        decoded = b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("the HTTP Basic credentials are not valid base64 of UTF-8") from None
    user, sep, password = decoded.partition(":")
    if not sep or not user:
        raise InvalidClient("the HTTP Basic credentials must be client_id:client_secret")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return Credentials(unquote_plus(user), unquote_plus(password), "client_secret_basic")

"""Resource indicators (RFC 8707): the resources a token request names, whether its client may
ask for them, and the ``aud`` of the token they make.

A client may name the resources it was created with (``client create --resource URI``) and its
own default audience (the client's or the realm's ``aud``), which is what it gets without naming
any: asking for that changes nothing it could not have. Resources are compared as exact strings,
as RFC 8707 leaves matching to the server: no normalisation can make two URIs the same resource.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from ..oauth import InvalidTarget, echo
from ..store import Client
from ._state import RealmState

MAX_RESOURCE_LENGTH = 1024
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+")  # RFC 3986 §4.3, ASCII


def is_resource(value: str) -> bool:
    """Whether ``value`` may be a resource indicator: an absolute URI without a fragment
    (RFC 8707 §2), of printable ASCII, at most :data:`MAX_RESOURCE_LENGTH` characters."""
    return (
        len(value) <= MAX_RESOURCE_LENGTH
        and "#" not in value
        and _ABSOLUTE_URI.fullmatch(value) is not None
    )


def requested(value: str | None) -> tuple[str, ...]:
    """The resources named by a form's ``resource`` (its values joined by spaces), in order,
    without repeats.

    Raises:
        InvalidTarget: a value is not an absolute URI without a fragment.
    """
    names = tuple(dict.fromkeys((value or "").split()))
    for name in names:
        if not is_resource(name):
            raise InvalidTarget(
                f"resource {echo(name)!r} is not an absolute URI without a fragment (RFC 8707 §2)"
            )
    return names


def default_audience(state: RealmState, client: Client) -> str:
    """The ``aud`` of the client's tokens when a request names no resource."""
    return client.audience or state.audience


def allowed(state: RealmState, client: Client) -> frozenset[str]:
    """The resources the client may name: its own, and its default audience."""
    return client.resources | {default_audience(state, client)}


def for_request(state: RealmState, client: Client, form: dict[str, str]) -> tuple[str, ...]:
    """The resources a token request names (RFC 8707 §2), if its client may ask for them.

    Raises:
        InvalidTarget: a resource is malformed or not one the client may name.
    """
    value = form.get("resource")
    if value is None:
        return ()  # the common request: nothing to check
    targets = requested(value)
    check_allowed(targets, allowed(state, client))
    return targets


def check_allowed(resources: Iterable[str], allowed: Collection[str]) -> None:
    """Refuse a resource the client may not name.

    Raises:
        InvalidTarget: one of ``resources`` is not among ``allowed``.
    """
    for name in resources:
        if name not in allowed:
            raise InvalidTarget(f"resource {echo(name)!r} is not one this client may ask for")


def for_refresh(
    issued_for: tuple[str, ...],
    asked: tuple[str, ...],
    allowed: Collection[str],
    default: str,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """For a refresh of a token ``issued_for`` some resources (none: the default audience):
    the resources the new access token is for (``asked``, or all that are still allowed) and
    those the new refresh token keeps (RFC 8707 §2.2: all of them, whatever one access token
    asked for).

    Raises:
        InvalidTarget: ``asked`` names a resource the token was not issued for (a refresh may
            narrow the resources, never widen them), or no resource it was issued for is
            still allowed to the client.
    """
    kept = tuple(name for name in issued_for if name in allowed)
    if issued_for and not kept:
        raise InvalidTarget(
            "the client may no longer ask for any resource this refresh token was issued for"
        )
    for name in asked:
        if name not in (kept or (default,)):
            raise InvalidTarget(
                f"resource {echo(name)!r} was not granted to this refresh token; a refresh may "
                "narrow the resources, never widen them"
            )
    return asked or kept, kept


def audience(resources: tuple[str, ...], default: str) -> str | list[str]:
    """The ``aud`` claim of a token for ``resources``: the one resource, a list of several, or
    ``default`` for none."""
    if not resources:
        return default
    return resources[0] if len(resources) == 1 else list(resources)

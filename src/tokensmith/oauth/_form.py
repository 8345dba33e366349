"""Strict parsing of form request bodies: ``application/x-www-form-urlencoded`` (RFC 6749 §3.2,
§B) and ``multipart/form-data`` (RFC 7578), with one size limit and one rule for both."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from urllib.parse import parse_qsl

from ._errors import InvalidRequest, echo

MAX_FIELDS = 64
"""The most fields a form may have, in either encoding."""
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
REPEATABLE = frozenset({"resource"})
"""The parameters that may appear more than once: RFC 8707 §2 ``resource``. Their values are
joined with single spaces, as a scope list is, so that a form stays a mapping of strings; a URI
holds no space (RFC 3986 §2), and a value that does is refused rather than read as two."""


def form_parser(content_type: str) -> Callable[[bytes], dict[str, str]]:
    """The parser for a request body sent with ``content_type``, chosen before the body is read.

    RFC 6749 names only ``application/x-www-form-urlencoded``; ``multipart/form-data`` is read
    too, as ASP.NET token endpoints (IdentityServer, which GBG's docs follow) do, because GBG's
    PHP sample sends it. Both give the same mapping, under the same rules.

    Raises:
        InvalidRequest: the media type is neither, or a multipart type names no valid boundary.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == URLENCODED:
        return parse_form
    if media_type == MULTIPART:
        from ._multipart import multipart_boundary  # the email parser: only for multipart

        return partial(_parse_multipart, multipart_boundary(content_type))
    raise InvalidRequest(f"send the parameters as {URLENCODED} (RFC 6749 §4.4.2) or as {MULTIPART}")


def parse_form(body: bytes) -> dict[str, str]:
    """Parse an ``application/x-www-form-urlencoded`` body into parameter name to value.

    Parameters sent without a value are treated as omitted (RFC 6749 §3.1).

    Raises:
        InvalidRequest: the body is not UTF-8, has too many fields, or repeats a parameter
            (RFC 6749 §3.2: parameters MUST NOT be included more than once) other than those
            of :data:`REPEATABLE`.
    """
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid UTF-8 form data") from None
    except ValueError:
        raise InvalidRequest(f"the request body has more than {MAX_FIELDS} form fields") from None
    return form_of(pairs)


def _parse_multipart(boundary: bytes, body: bytes) -> dict[str, str]:
    """Parse a ``multipart/form-data`` body as :func:`parse_form` parses a urlencoded one.

    Raises:
        InvalidRequest: as :func:`parse_form`, and for a part that is not a text parameter
            (see :func:`~tokensmith.oauth._multipart.multipart_fields`).
    """
    from ._multipart import multipart_fields

    return form_of(multipart_fields(body, boundary))


def form_of(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The form of decoded ``(name, value)`` pairs, whatever encoding carried them: empty values
    omitted, each parameter once, the values of :data:`REPEATABLE` ones joined with spaces.

    Raises:
        InvalidRequest: a parameter other than those of :data:`REPEATABLE` is repeated, or a
            value of one of those holds whitespace.
    """
    form: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in REPEATABLE:
            if any(c.isspace() for c in value):
                raise InvalidRequest(
                    f"a {name} value holds whitespace; send each value as a parameter of its own"
                )
            if value:
                form[name] = f"{form[name]} {value}" if name in form else value
            continue
        if name in seen:
            raise InvalidRequest(
                f"parameter '{echo(name, 40)}' is repeated; each parameter may appear once"
            )
        seen.add(name)
        if value:
            form[name] = value
    return form

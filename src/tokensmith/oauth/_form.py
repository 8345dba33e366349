"""Strict parsing of ``application/x-www-form-urlencoded`` request bodies (RFC 6749 §3.2, §B)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from ._errors import InvalidRequest, echo

MAX_FIELDS = 64
REPEATABLE = frozenset({"resource"})
"""The parameters that may appear more than once: RFC 8707 §2 ``resource``. Their values are
joined with single spaces, as a scope list is, so that a form stays a mapping of strings; a URI
holds no space (RFC 3986 §2), and a value that does is refused rather than read as two."""


def parse_form(body: bytes) -> dict[str, str]:
    """Parse a form body into a mapping of parameter name to value.

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

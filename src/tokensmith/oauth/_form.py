"""Strict parsing of ``application/x-www-form-urlencoded`` request bodies (RFC 6749 §3.2, §B)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from ._errors import InvalidRequest, echo

MAX_FIELDS = 64


def parse_form(body: bytes) -> dict[str, str]:
    """Parse a form body into a mapping of parameter name to value.

    Parameters sent without a value are treated as omitted (RFC 6749 §3.1).

    Raises:
        InvalidRequest: the body is not UTF-8, has too many fields, or repeats a parameter
            (RFC 6749 §3.2: parameters MUST NOT be included more than once).
    """
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid UTF-8 form data") from None
    except ValueError:
        raise InvalidRequest(f"the request body has more than {MAX_FIELDS} form fields") from None
    form: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:
            raise InvalidRequest(
                f"parameter '{echo(name, 40)}' is repeated; each parameter may appear once"
            )
        seen.add(name)
        if value:
            form[name] = value
    return form

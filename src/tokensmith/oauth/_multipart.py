"""Strict parsing of ``multipart/form-data`` request bodies (RFC 7578) into form parameters.

RFC 6749 names only ``application/x-www-form-urlencoded``; this module exists because GBG's PHP
sample passes an array to ``CURLOPT_POSTFIELDS``, which makes curl send ``multipart/form-data``,
and the IdentityServer-style endpoint GBG documents (ASP.NET) reads both encodings.

The framing (RFC 2046 §5.1.1) is ours: the body is split on the delimiter with ``bytes`` methods,
at most :data:`MAX_FIELDS` parts, each part's header block at most :data:`MAX_PART_HEADER_BYTES`,
so the work is linear in the body and never recursive. Each header block is read by the standard
library's email header parser (field syntax, quoted strings, parameters). The email feed parser
is not run on the whole body: it recurses into nested multipart parts (a ``RecursionError``
within 64 KiB, which would be a 500), its parameter parsing is quadratic in a header's length,
and on 64 KiB hostile bodies it spends 12-200 ms of CPU where this takes under 3 ms
(``bench/multipart.py``).
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import Compat32

from ._errors import InvalidRequest, echo
from ._form import MAX_FIELDS

MAX_PART_HEADER_BYTES = 1024
MAX_CONTENT_TYPE_CHARS = 1024

# RFC 2046 §5.1.1: 1-70 bchars, the last one not a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_TEXT_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_IDENTITY_ENCODINGS = frozenset({"7bit", "8bit", "binary"})


class _RawHeaders(Compat32):
    """Compat32, but a header value is handed back as parsed (non-ASCII bytes as surrogate
    escapes) rather than wrapped in an ``email.header.Header``, so that names can be decoded
    as UTF-8 here, strictly."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaders()
_HEADERS = BytesHeaderParser(policy=_POLICY)


def multipart_boundary(content_type: str) -> bytes:
    """The boundary named by a ``multipart/form-data`` Content-Type header value.

    Raises:
        InvalidRequest: the header is too long, or its boundary is missing or not an RFC 2046
            boundary.
    """
    if len(content_type) > MAX_CONTENT_TYPE_CHARS:
        raise InvalidRequest(f"the Content-Type header is longer than {MAX_CONTENT_TYPE_CHARS}")
    header = Message(policy=_POLICY)
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not _BOUNDARY.fullmatch(boundary):
        raise InvalidRequest(
            "multipart/form-data needs a boundary parameter of 1-70 characters (RFC 2046 §5.1.1)"
        )
    return boundary.encode("ascii")


def multipart_fields(body: bytes, boundary: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a ``multipart/form-data`` body, in order.

    Every part must be a text parameter: ``Content-Disposition: form-data; name="…"``, no
    ``filename``, no Content-Type but ``text/plain`` in UTF-8 or US-ASCII, no
    Content-Transfer-Encoding but an identity one (RFC 7578 §4.7). A preamble before the first
    boundary and an epilogue after the last are ignored (RFC 2046 §5.1.1).

    Raises:
        InvalidRequest: the body is not framed by the boundary or not closed, has more than
            :data:`MAX_FIELDS` parts, or a part breaks one of the rules above.
    """
    dash = b"--" + boundary
    delimiter = b"\r\n" + dash
    if body.startswith(dash):
        rest = body[len(dash) :]
    else:
        start = body.find(delimiter)
        if start < 0:
            raise InvalidRequest("the multipart body does not start with its boundary")
        rest = body[start + len(delimiter) :]
    # At most MAX_FIELDS parts and the close: the split never makes more pieces than that.
    pieces = rest.split(delimiter, MAX_FIELDS)
    fields: list[tuple[str, str]] = []
    for index, piece in enumerate(pieces):
        if piece.startswith(b"--"):  # the close delimiter; what follows is the epilogue
            return fields
        if index == MAX_FIELDS:
            raise InvalidRequest(f"the request body has more than {MAX_FIELDS} form fields")
        padded = piece.lstrip(b" \t")  # RFC 2046 transport padding after a boundary
        if not padded.startswith(b"\r\n"):
            raise InvalidRequest("a multipart boundary is not followed by CRLF (RFC 2046 §5.1.1)")
        fields.append(_field(padded[2:], index + 1))
    raise InvalidRequest("the multipart body is not closed by its final boundary")


def _field(part: bytes, number: int) -> tuple[str, str]:
    head, blank, content = part.partition(b"\r\n\r\n")
    if not blank or part.startswith(b"\r\n"):
        raise InvalidRequest(f"multipart part {number} has no headers followed by a blank line")
    if len(head) > MAX_PART_HEADER_BYTES:
        raise InvalidRequest(
            f"multipart part {number} has more than {MAX_PART_HEADER_BYTES} bytes of headers"
        )
    headers = _HEADERS.parsebytes(head + b"\r\n\r\n")
    if headers.defects or headers.get_payload() or headers.get_unixfrom() is not None:
        raise InvalidRequest(f"multipart part {number} has a malformed header")
    for unique in ("content-disposition", "content-type", "content-transfer-encoding"):
        if len(headers.get_all(unique, [])) > 1:
            raise InvalidRequest(f"multipart part {number} has more than one {unique} header")
    name = _name(headers, number)
    shown = echo(name, 40)
    if headers.get("content-type") is not None:
        _check_text(headers, shown)
    encoding = headers.get("content-transfer-encoding")
    if encoding is not None and encoding.strip().lower() not in _IDENTITY_ENCODINGS:
        raise InvalidRequest(
            f"part '{shown}' has Content-Transfer-Encoding {echo(encoding, 20)!r}; send the "
            "value as is (RFC 7578 §4.7)"
        )
    return name, _utf8(content, f"the value of part '{shown}'")


def _name(headers: Message, number: int) -> str:
    # One parse of the parameters: (disposition, ""), then (name, value) pairs, unquoted; a
    # value is a (charset, language, text) tuple where RFC 2231 encoded it (name*=).
    params = headers.get_params(header="content-disposition") or [("", "")]
    if params[0][0].strip().lower() != "form-data":
        raise InvalidRequest(f"multipart part {number} needs Content-Disposition: form-data")
    given = {str(key).lower(): value for key, value in params[1:]}
    if len(given) < len(params) - 1:
        raise InvalidRequest(f"multipart part {number} repeats a Content-Disposition parameter")
    if any(key.startswith("filename") for key in given):
        raise InvalidRequest(f"multipart part {number} is a file; parameters are text fields")
    name = given.get("name")
    if not isinstance(name, str):  # absent, or an RFC 2231 name*=
        raise InvalidRequest(f'multipart part {number} needs a plain name="…" parameter')
    return _utf8(name.encode("ascii", "surrogateescape"), f"the name of multipart part {number}")


def _check_text(headers: Message, shown: str) -> None:
    media_type = str(headers.get("content-type", "")).split(";", 1)[0].strip().lower()
    if media_type != "text/plain":
        raise InvalidRequest(
            f"part '{shown}' is {echo(media_type, 40)!r}; parameters are text/plain (files and "
            "nested multipart parts are not accepted)"
        )
    charset = headers.get_param("charset")
    if charset is not None and (
        not isinstance(charset, str) or charset.strip().lower() not in _TEXT_CHARSETS
    ):
        raise InvalidRequest(f"part '{shown}' is not in UTF-8; send every value as UTF-8")


def _utf8(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"{what} is not valid UTF-8") from None

"""``multipart/form-data`` request bodies (RFC 7578) read as form parameters, under the rules of
urlencoded forms: what is accepted, what is refused and why, and a fuzz of the parser (hostile
bytes give a mapping or ``InvalidRequest``, nothing else; well-formed bodies read as the standard
library's email parser reads them)."""

from __future__ import annotations

import email.parser
import email.policy
import os
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokensmith.oauth import InvalidRequest, form_parser

BOUNDARY = "------------------------74bea3afce3fa0b5"  # as PHP's curl makes them
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def part(name: bytes, value: bytes, headers: bytes = b"", boundary: str = BOUNDARY) -> bytes:
    """One part as curl writes it, with ``headers`` after its Content-Disposition."""
    disposition = b'Content-Disposition: form-data; name="' + name + b'"\r\n'
    return b"--" + boundary.encode() + b"\r\n" + disposition + headers + b"\r\n" + value + b"\r\n"


def body(*parts: bytes, boundary: str = BOUNDARY) -> bytes:
    return b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"


def render(fields: Iterable[tuple[str, str]], boundary: str) -> bytes:
    return body(
        *(part(n.encode(), v.encode(), boundary=boundary) for n, v in fields), boundary=boundary
    )


def parse(payload: bytes, content_type: str = CONTENT_TYPE) -> dict[str, str]:
    return form_parser(content_type)(payload)


def refusal(payload: bytes, content_type: str = CONTENT_TYPE) -> str:
    with pytest.raises(InvalidRequest) as raised:
        parse(payload, content_type)
    assert raised.value.status_code == 400
    return raised.value.description


def test_curl_multipart_reads_as_the_urlencoded_form() -> None:
    """What PHP's curl sends for an array of fields reads as the same fields sent urlencoded."""
    fields = {"client_id": "ro.client", "grant_type": "id_auth", "scope": "api api2"}

    as_multipart = parse(render(fields.items(), BOUNDARY))
    as_urlencoded = form_parser("application/x-www-form-urlencoded")(
        b"client_id=ro.client&grant_type=id_auth&scope=api+api2"
    )

    assert as_multipart == as_urlencoded == fields


def test_resource_may_repeat_in_multipart_as_in_urlencoded() -> None:
    """RFC 8707 ``resource`` repeats in either encoding and reads the same; any other
    parameter repeated is refused in both."""
    fields = [
        ("grant_type", "client_credentials"),
        ("resource", "https://a/"),
        ("resource", "https://b/"),
    ]
    urlencoded = form_parser("application/x-www-form-urlencoded")

    as_multipart = parse(render(fields, BOUNDARY))
    as_urlencoded = urlencoded(
        b"grant_type=client_credentials&resource=https://a/&resource=https://b/"
    )

    assert (
        as_multipart
        == as_urlencoded
        == {
            "grant_type": "client_credentials",
            "resource": "https://a/ https://b/",
        }
    )
    assert "repeated" in refusal(render([("scope", "a"), ("scope", "b")], BOUNDARY))


def test_values_keep_their_bytes_and_empty_ones_are_omitted() -> None:
    """A value keeps inner CRLFs and a trailing newline; an empty value is as if omitted
    (RFC 6749 §3.1), as in urlencoded forms."""
    payload = body(part(b"a", b"x\r\n\r\ny\r\n"), part(b"empty", b""), part(b"b", "é".encode()))

    assert parse(payload) == {"a": "x\r\n\r\ny\r\n", "b": "é"}


def test_what_rfc_2046_and_7578_allow_is_read() -> None:
    """A quoted boundary, a preamble and an epilogue, padding after a boundary, a text/plain
    UTF-8 part, an identity transfer encoding, other headers and a UTF-8 name are read."""
    boundary = "a b'()+_,-./:=?"
    payload = (
        b"preamble\r\n"
        + part(b"a", b"1", b"Content-Type: text/plain; charset=UTF-8\r\n", boundary=boundary)
        + part(b"b", b"2", b"Content-Transfer-Encoding: 8bit\r\nX-Other: 1\r\n", boundary=boundary)
        + part("é".encode(), b"3", boundary=boundary)
        + f"--{boundary}-- \r\nepilogue".encode()
    )

    form = parse(payload, f'Multipart/Form-Data; boundary="{boundary}"; charset=utf-8')

    assert form == {"a": "1", "b": "2", "é": "3"}


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        ("multipart/form-data", "boundary"),
        ("multipart/form-data; boundary=", "boundary"),
        ("multipart/form-data; boundary=" + "a" * 71, "boundary"),
        ('multipart/form-data; boundary="ends in space "', "boundary"),
        ("multipart/form-data; boundary*=utf-8''abc", "boundary"),
        ("multipart/form-data; boundary=" + "a;" * 600, "longer than"),
        ("multipart/mixed; boundary=x", "multipart/form-data"),
        ("text/plain", "application/x-www-form-urlencoded"),
    ],
)
def test_content_types_without_a_usable_boundary_are_refused(content_type: str, words: str) -> None:
    """A multipart type without a valid RFC 2046 boundary, or another type, is refused before
    the body is read."""
    with pytest.raises(InvalidRequest) as raised:
        form_parser(content_type)

    assert words in raised.value.description


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"", "does not start with its boundary"),
        (b"client_id=ro.client", "does not start with its boundary"),
        (part(b"a", b"1"), "not closed"),
        (part(b"a", b"1") + b"--" + BOUNDARY.encode() + b"x\r\n", "not followed by CRLF"),
        (body(part(b"a", b"1"), part(b"a", b"2")), "'a' is repeated"),
        (body(*(part(b"x%d" % i, b"1") for i in range(65))), "more than 64 form fields"),
        (body(part(b"a", b"\xff")), "value of part 'a' is not valid UTF-8"),
        (body(part(b"\xff", b"1")), "name of multipart part 1 is not valid UTF-8"),
        (body(part(b"a", b"1", b"Content-Type: text/plain; charset=latin-1\r\n")), "not in UTF-8"),
        (body(part(b"a", b"1", b"Content-Transfer-Encoding: base64\r\n")), "RFC 7578 §4.7"),
        (body(part(b'a"; filename="a.txt', b"1")), "is a file"),
        (body(part(b"a", b"1", b"Content-Type: application/octet-stream\r\n")), "text/plain"),
        (body(part(b"a", b"1", b"Content-Type: multipart/mixed; boundary=q\r\n")), "nested"),
        (body(part(b"a", b"1", b"Content-Disposition: form-data; name=b\r\n")), "more than one"),
        (body(part(b'a"; name="b', b"1")), "repeats a Content-Disposition parameter"),
        (body(part(b"a", b"1", b"X-Long: " + b"x" * 1100 + b"\r\n")), "1024 bytes of headers"),
        (body(part(b"a", b"1", b"not a header\r\n")), "malformed header"),
        (body(b"--" + BOUNDARY.encode() + b"\r\n\r\nvalue\r\n"), "no headers"),
        (
            body(b"--" + BOUNDARY.encode() + b"\r\nContent-Type: text/plain\r\n\r\nv\r\n"),
            "form-data",
        ),
        (
            body(b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data\r\n\r\nv\r\n"),
            'plain name="…"',
        ),
        (
            body(
                b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; "
                b"name*=utf-8''%C3%A9\r\n\r\nv\r\n"
            ),
            'plain name="…"',
        ),
    ],
)
def test_bodies_that_are_not_text_parameters_say_why(payload: bytes, words: str) -> None:
    """Missing or unclosed boundaries, repeats, floods, bad encodings, files, nested parts,
    oversized headers and parts without a name are invalid_request saying which."""
    assert words in refusal(payload)


def test_a_refusal_never_echoes_a_value() -> None:
    """A refused part is named by its parameter name, never by its value (it may be a secret)."""
    payload = body(part(b"client_secret", b"s3cr\xff", b"Content-Type: text/plain\r\n"))

    assert "s3cr" not in refusal(payload)


# --- fuzz --------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=int(os.environ.get("TOKENSMITH_MULTIPART_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
bchars = st.sampled_from("0123456789abcXYZ'()+_,-./:=? ")
boundaries = st.text(bchars, min_size=1, max_size=70).filter(lambda b: not b.endswith(" "))
# Names and values curl would send as they are: no quote, backslash or line break in a name.
names = st.text(
    st.characters(codec="utf-8", exclude_characters='"\\\r\n'),
    min_size=1,
    max_size=12,
)
values = st.text(st.characters(codec="utf-8"), max_size=40)


def email_reads(payload: bytes, boundary: str) -> list[tuple[str, str]]:
    """The (name, value) pairs that the standard library's whole email parser reads."""
    head = f'Content-Type: multipart/form-data; boundary="{boundary}"\r\n\r\n'.encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + payload)
    pairs = []
    for item in message.iter_parts():
        raw = item.get_payload(decode=True)
        assert isinstance(raw, bytes)
        pairs.append((str(item.get_param("name", header="content-disposition")), raw.decode()))
    return pairs


@FUZZ
@given(
    boundary=boundaries,
    fields=st.lists(st.tuples(names, values), max_size=8, unique_by=lambda f: f[0]),
)
def test_well_formed_bodies_read_as_the_email_parser_reads_them(
    boundary: str, fields: list[tuple[str, str]]
) -> None:
    """Any fields curl could send, under any boundary, read back as sent (blanks omitted) and
    as the standard library's email parser reads the same body."""
    payload = render(fields, boundary)
    if any(("\r\n--" + boundary) in value for _, value in fields):
        return  # a sender picks a boundary its values do not contain

    form = parse(payload, f'multipart/form-data; boundary="{boundary}"')

    assert form == {name: value for name, value in fields if value}
    assert form == {name: value for name, value in email_reads(payload, boundary) if value}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A well-formed body with bytes inserted, deleted or replaced, or a tail cut off."""
    payload = bytearray(
        render(draw(st.lists(st.tuples(names, values), max_size=4)), BOUNDARY)
        + draw(st.sampled_from([b"", b"epilogue"]))
    )
    pieces = [b"\r\n", b"--", BOUNDARY.encode(), b'"', b";", b":", b" ", b"\xff", b"\x00", b"\r"]
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(payload)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        piece = draw(st.sampled_from(pieces) | st.binary(min_size=1, max_size=8))
        if action == "insert":
            payload[at:at] = piece
        elif action == "delete":
            del payload[at : at + draw(st.integers(1, 10))]
        elif action == "replace":
            payload[at : at + len(piece)] = piece
        else:
            del payload[at:]
    return bytes(payload)


@FUZZ
@given(payload=mutated() | st.binary(max_size=300))
def test_hostile_bytes_give_a_form_or_invalid_request(payload: bytes) -> None:
    """Mutated bodies and arbitrary bytes give a mapping of strings or InvalidRequest (400),
    never another exception."""
    outcome: dict[str, str] | InvalidRequest
    try:
        outcome = parse(payload)
    except InvalidRequest as refused:
        outcome = refused

    if isinstance(outcome, InvalidRequest):
        assert outcome.status_code == 400
        assert outcome.description
    else:
        assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in outcome.items())


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (
            b"".join(
                f"--b{i}\r\nContent-Disposition: form-data; name=a\r\n"
                f"Content-Type: multipart/mixed; boundary=b{i + 1}\r\n\r\n".encode()
                for i in range(1000)
            ),
            "nested",
        ),
        (
            b"--b0\r\nContent-Disposition: form-data; name=" + b";" * 65_000 + b"\r\n\r\nv\r\n",
            "1024 bytes of headers",
        ),
        (
            b"".join(
                b"--b0\r\nContent-Disposition: form-data; name=%d\r\n\r\n\r\n" % i
                for i in range(1500)
            )
            + b"--b0--\r\n",
            "more than 64 form fields",
        ),
    ],
)
def test_bodies_that_break_the_email_feed_parser_are_refused(payload: bytes, words: str) -> None:
    """Deep nesting (a RecursionError in the email feed parser), a 64 KiB parameter list (its
    quadratic get_param) and thousands of parts are refused at the first rule they break."""
    assert words in refusal(payload, "multipart/form-data; boundary=b0")

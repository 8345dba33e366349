"""Requests for the fuzz test (tests/test_fuzz.py): recipes of HTTP/1.1 requests rendered to
raw bytes at send time, the exchange over a loopback socket, and a log handler that keeps every
record a request must never cause.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from .fuzz_tokens import Identity, Jwt, brief_repr, render_jwt

# --- values and requests -------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Ref:
    """A value of the running service known only at send time (a real secret, a real token,
    or one fetched afresh for this request)."""

    name: str


Value = str | Jwt | Ref


@dataclass(frozen=True, repr=False)
class Basic:
    """An ``Authorization: Basic`` value: ``user`` and ``password`` form-encoded as RFC 6749
    §2.3.1 says, or ``raw`` sent as the credentials as is."""

    user: Value = ""
    password: Value = ""
    raw: str | None = None


@dataclass(frozen=True, repr=False)
class Bearer:
    """An ``Authorization: Bearer`` value."""

    token: Value


HeaderValue = str | Basic | Bearer


@dataclass(frozen=True, repr=False)
class Request:
    """One HTTP/1.1 request to build at send time.

    ``body`` is form fields (rendered as ``style``: form, json, raw without escaping, with
    broken percent escapes, or ``multipart:TWIST``, see :func:`multipart`) or raw bytes.
    ``framing``: ``length`` (an honest Content-Length), ``chunked``, ``longer``/``shorter`` (a
    Content-Length that lies), ``twice`` (two different Content-Length headers) or ``none``.
    """

    method: str
    target: str
    headers: tuple[tuple[str, HeaderValue], ...] = ()
    body: tuple[tuple[str, Value], ...] | bytes = b""
    style: str = "form"
    framing: str = "length"
    host: str | None = "default"
    version: str = "HTTP/1.1"


for _recipe in (Ref, Basic, Bearer, Request):
    brief_repr(_recipe)


class Context:
    """What rendering needs from the running service: signers, secrets and tokens."""

    def __init__(
        self, identities: Mapping[str, Identity], refs: Mapping[str, str | Callable[[], str]]
    ) -> None:
        self.identities = identities
        self.refs = refs

    def value(self, value: Value) -> str:
        if isinstance(value, Jwt):
            return render_jwt(value, self.identities)
        if isinstance(value, Ref):
            ref = self.refs[value.name]
            return ref() if callable(ref) else ref
        return value

    def header(self, value: HeaderValue) -> str:
        if isinstance(value, Bearer):
            return "Bearer " + self.value(value.token)
        if isinstance(value, Basic):
            if value.raw is not None:
                return "Basic " + value.raw
            pair = quote_plus(self.value(value.user)) + ":" + quote_plus(self.value(value.password))
            return "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return value

    def body(self, request: Request) -> bytes:
        if isinstance(request.body, bytes):
            return request.body
        fields = [(name, self.value(v)) for name, v in request.body]
        if request.style.startswith("multipart:"):
            return multipart(fields, request.style.partition(":")[2])
        if request.style == "json":
            return json.dumps(dict(fields)).encode("utf-8", "surrogatepass")
        if request.style == "raw":
            text = "&".join(f"{n}={v}" for n, v in fields)
        elif request.style == "broken":
            text = "&".join(
                f"{quote_plus(n, errors='surrogatepass')}="
                f"{quote_plus(v, errors='surrogatepass')}%zz%ff%"
                for n, v in fields
            )
        else:
            text = "&".join(
                f"{quote_plus(n, errors='surrogatepass')}={quote_plus(v, errors='surrogatepass')}"
                for n, v in fields
            )
        return text.encode("utf-8", "surrogatepass")

    def render(self, request: Request, port: int) -> bytes:
        """The request's bytes on the wire."""
        body = self.body(request)
        lines = [f"{request.method} {request.target} {request.version}"]
        if request.host == "default":
            lines.append(f"Host: 127.0.0.1:{port}")
        elif request.host is not None:
            lines.append(f"Host: {request.host}")
        lines += [f"{name}: {self.header(value)}" for name, value in request.headers]
        lines.append("Connection: close")
        if request.framing == "chunked":
            lines.append("Transfer-Encoding: chunked")
            body = (
                (f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n") if body else b"0\r\n\r\n"
            )
        elif request.framing == "length":
            lines.append(f"Content-Length: {len(body)}")
        elif request.framing == "longer":
            lines.append(f"Content-Length: {len(body) + 10}")
        elif request.framing == "shorter":
            lines.append(f"Content-Length: {max(len(body) - 3, 0)}")
        elif request.framing == "twice":
            lines += [f"Content-Length: {len(body)}", f"Content-Length: {len(body) + 1}"]
        elif request.framing == "negative":
            lines.append("Content-Length: -1")
        elif request.framing == "huge":
            lines.append("Content-Length: " + "9" * 30)
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", "surrogatepass") + body


# The boundary of every multipart body the fuzz sends (PHP's curl makes ones like it).
BOUNDARY = "------------------------fuzz7MA4YWxkTrZu0gW"
MULTIPART_TWISTS = (
    "none",
    "file",
    "nested",
    "unclosed",
    "no-start",
    "preamble",
    "padding",
    "big-headers",
    "base64",
    "latin-1",
    "binary-value",
    "no-name",
    "rfc2231-name",
    "bare-part",
    "no-blank-line",
    "twice",
    "lf-only",
    "close-only",
)


def multipart(fields: list[tuple[str, str]], twist: str) -> bytes:
    """``fields`` as a ``multipart/form-data`` body under :data:`BOUNDARY` as curl writes it,
    then bent by ``twist`` (one of :data:`MULTIPART_TWISTS`; ``none`` leaves it well formed)."""
    dash = b"--" + BOUNDARY.encode()
    parts = []
    for index, (name, value) in enumerate(fields):
        disposition = f'form-data; name="{name}"'
        headers = ""
        raw = value.encode("utf-8", "surrogatepass")
        if index == 0:  # each twist bends the first part; the others stay well formed
            if twist == "file":
                disposition += '; filename="key.pem"'
                headers = "Content-Type: application/octet-stream\r\n"
            elif twist == "nested":
                headers = "Content-Type: multipart/mixed; boundary=inner\r\n"
                raw = b"--inner\r\n\r\n" + raw + b"\r\n--inner--"
            elif twist == "big-headers":
                headers = "X-Padding: " + "p" * 1100 + "\r\n"
            elif twist == "base64":
                headers = "Content-Transfer-Encoding: base64\r\n"
                raw = base64.b64encode(raw)
            elif twist == "latin-1":
                headers = "Content-Type: text/plain; charset=latin-1\r\n"
                raw = value.encode("latin-1", "replace")
            elif twist == "binary-value":
                raw += b"\xff\xfe"
            elif twist == "no-name":
                disposition = "form-data"
            elif twist == "rfc2231-name":
                disposition = f"form-data; name*=utf-8''{quote(name, errors='surrogatepass')}"
        head = f"Content-Disposition: {disposition}\r\n{headers}".encode("utf-8", "surrogatepass")
        if index == 0 and twist == "bare-part":
            head = b""
        blank = b"\r\n" if not (index == 0 and twist == "no-blank-line") else b""
        parts.append(dash + b"\r\n" + head + blank + raw + b"\r\n")
        if index == 0 and twist == "twice":
            parts.append(parts[-1])
    body = b"".join(parts) + dash + b"--\r\n"
    if twist == "unclosed":
        body = body[: -len(dash) - 4]
    elif twist == "no-start":
        body = body[len(dash) :]
    elif twist == "preamble":
        body = b"a preamble the service ignores\r\n" + body + b"and an epilogue"
    elif twist == "padding":
        body = body.replace(dash + b"\r\n", dash + b" \t\r\n")
    elif twist == "lf-only":
        body = body.replace(b"\r\n", b"\n")
    elif twist == "close-only":
        body = dash + b"--\r\n"
    return body


# --- the wire -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What came back: the status (None when the connection closed without an answer) and the
    raw response."""

    status: int | None
    raw: bytes
    cut: bool = False

    def json(self) -> Any:
        return json.loads(self.raw.partition(b"\r\n\r\n")[2] or b"null")


def exchange(port: int, data: bytes, *, half_close: bool = False, timeout: float = 10) -> Answer:
    """Send ``data`` on a new loopback connection and read the answer until the server closes.
    ``cut`` tells that the server closed the connection while the request was still being sent
    (its answer, if any, may then be lost to the reset).

    Raises:
        TimeoutError: no complete answer within ``timeout`` seconds.
    """
    chunks: list[bytes] = []
    cut = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # EPIPE, ECONNRESET, or ENOTCONN from the half-close
            cut = True  # the server refused and closed before reading everything
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        except TimeoutError:
            raise TimeoutError(f"no answer within {timeout} s") from None
    raw = b"".join(chunks)
    status: int | None = None
    while raw.startswith(b"HTTP/"):
        status = int(raw.split(b" ", 2)[1])
        if status >= 200:
            break
        raw, status = raw.partition(b"\r\n\r\n")[2], None  # an interim 100 Continue
    return Answer(status, raw, cut)


def path_text(path: str) -> str:
    """``path`` as a request target: non-ASCII and spaces percent-encoded."""
    return quote(path, safe="/%?=&.:@!$'()*+,;~-_[]", errors="surrogatepass")


# --- the log -------------------------------------------------------------------------------------


class Alarms(logging.Handler):
    """Keeps every log record a request must never cause: ERROR and above, any record with a
    traceback, and any record that contains one of the ``secrets``."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = secrets
        self.records: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception as exc:  # a record that cannot be formatted is itself a finding
            message = f"unformattable record {record.msg!r}: {exc!r}"
        text = message
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        flagged = (
            record.levelno >= logging.ERROR
            or record.exc_info is not None
            or "Traceback" in text
            or any(s and s in text for s in self.secrets)
        )
        if flagged:
            with self._lock:
                self.records.append(f"{record.levelname} {record.name}: {text[-3000:]}")

    def take(self) -> list[str]:
        """The records kept since the last call."""
        with self._lock:
            taken, self.records = self.records, []
        return taken

    @classmethod
    @contextlib.contextmanager
    def installed(cls, secrets: tuple[str, ...], names: tuple[str, ...]) -> Iterator[Alarms]:
        """Attach a handler to the root logger and to the loggers in ``names`` (uvicorn's do not
        propagate) for the duration of a ``yield``."""
        handler = cls(secrets)
        loggers = [logging.getLogger(), *(logging.getLogger(n) for n in names)]
        for logger in loggers:
            logger.addHandler(handler)
        try:
            yield handler
        finally:
            for logger in loggers:
                logger.removeHandler(handler)

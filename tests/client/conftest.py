"""Fixtures of the client suite: a scriptable token endpoint and API over real loopback HTTP, and
a check, around every test, that no secret or token reached the logs."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest

SENSITIVE: set[str] = set()
"""Every secret and token the fake servers saw or issued; none may appear in a log line."""


@dataclass
class Seen:
    """One request the fake server received."""

    path: str
    form: dict[str, str]
    headers: dict[str, str]
    at: float
    pairs: list[tuple[str, str]] = field(default_factory=list)
    """Every name and value of the form, in order, repeated names included."""


@dataclass
class Answer:
    """What the fake token endpoint answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Callable[["FakeOAuth", Seen], Answer]


class FakeOAuth:
    """A token endpoint (``/token``) and a protected API (``/api``) on 127.0.0.1.

    By default ``/token`` issues opaque tokens valid ``ttl`` seconds (with a refresh token when
    ``refresh`` is set); ``script`` replaces that. ``/api`` answers 200 to tokens in ``valid``
    and 401 to anything else.
    """

    def __init__(self, script: Script | None = None, *, ttl: int = 300, delay: float = 0.0) -> None:
        self.script = script
        self.ttl = ttl
        self.delay = delay
        self.refresh = False
        self.seen: list[Seen] = []
        self.valid: set[str] = set()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                pairs = parse_qsl(self.rfile.read(length).decode())
                seen = Seen(self.path, dict(pairs), dict(self.headers), time.time(), pairs)
                self._answer(fake.handle(seen))

            def do_GET(self) -> None:
                self._answer(fake.handle(Seen(self.path, {}, dict(self.headers), time.time())))

            def _answer(self, answer: Answer) -> None:
                if answer.delay:
                    time.sleep(answer.delay)
                body = answer.body
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response_only(answer.status)
                if "Date" not in answer.headers:
                    self.send_header("Date", self.date_time_string())
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.token_url = self.url + "/token"
        # A short poll: shutdown() waits for the serving loop's next look (0.5 s by default).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def token_requests(self) -> list[Seen]:
        """The requests that reached the token endpoint."""
        return [s for s in self.seen if s.path == "/token"]

    def handle(self, seen: Seen) -> Answer:
        with self.lock:
            self.seen.append(seen)
        for key in ("client_secret", "refresh_token", "id_token", "subject_token"):
            if key in seen.form:
                SENSITIVE.add(seen.form[key])
        if seen.path == "/api":
            token = seen.headers.get("Authorization", "").partition(" ")[2]
            ok = token in self.valid
            return Answer(200 if ok else 401, {"ok": ok})
        if self.script is not None:
            return self.script(self, seen)
        return Answer(body=self.issue(), delay=self.delay)

    def issue(
        self, ttl: int | None = None, *, pascal: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """A fresh token answer; the token becomes valid at /api."""
        token = "tok-" + secrets.token_urlsafe(16)
        SENSITIVE.add(token)
        with self.lock:
            self.valid.add(token)
        lifetime = self.ttl if ttl is None else ttl
        if pascal:
            body: dict[str, Any] = {"Token": token, "TokenType": "bearer", "ExpiresIn": lifetime}
        else:
            body = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
            if self.refresh:
                refresh = "ref-" + secrets.token_urlsafe(16)
                SENSITIVE.add(refresh)
                body.update(refresh_token=refresh, refresh_expires_in=1800)
        body.update(extra)
        return body

    def __enter__(self) -> FakeOAuth:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeOAuth]:
    """A fake token endpoint issuing 300-second tokens."""
    with FakeOAuth() as server:
        yield server


@pytest.fixture
def make_fake() -> Iterator[Callable[..., FakeOAuth]]:
    """Start fake servers with a script; all are stopped afterwards."""
    started: list[FakeOAuth] = []

    def make(script: Script | None = None, **kwargs: Any) -> FakeOAuth:
        server = FakeOAuth(script, **kwargs).__enter__()
        started.append(server)
        return server

    yield make
    for server in started:
        server.__exit__()


def in_threads(target: Callable[[], None], n: int, timeout: float = 10.0) -> None:
    """Run ``target`` in ``n`` threads at once and wait for them all."""
    threads = [threading.Thread(target=target) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    """A hand-moved clock starting now."""
    return Clock()


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture every log record of the test at DEBUG and fail if any holds a secret or token."""
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text
    leaked = [s for s in SENSITIVE if len(s) >= 6 and s in text]
    assert not leaked, f"{len(leaked)} secret(s) or token(s) appear in the log output"

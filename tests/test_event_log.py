"""The event log after the scripted session (tests/operator_session.py): each event with its
fields, one per line, in JSON and in text, from `serve` with every log option on and from the
CLI; and no secret, token, refresh token, master key or client assertion anywhere."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tokensmith.server._events import MAX_TEXT, Event, JsonFormatter, TextFormatter, clip
from tokensmith.server._serve import masked_url
from tokensmith.store import sqlite_path

from . import operator_session as script
from .conftest import Service, eventually, make_settings, run_admin
from .serve_process import serving

EVERY_LOG_OPTION = ("--log-level", "debug", "--access-log")


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The events called ``name`` among the JSON ``lines``."""
    return [line for line in lines if line.get("event") == name]


def test_the_json_log_tells_the_session_and_holds_no_secret(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    """With `serve --workers 2 --log-format json --log-level debug --access-log`, every line of
    the output is a JSON object (uvicorn's and the supervisor's too) with time, level, logger
    and event; each event of the session is there with its fields, the CLI's changes are on its
    standard error in the same format, and no secret or token appears anywhere."""
    settings = make_settings(migrated_sqlite_url)
    session = script.administer(tmp_path, settings, {"TOKENSMITH_LOG_FORMAT": "json"})
    args = ("--workers", "2", "--log-format", "json", *EVERY_LOG_OPTION)

    with serving(tmp_path, settings, *args) as service:
        service.worker_pids(2)
        script.run(service.url, session)
        metrics = httpx.get(service.url + "/metrics", timeout=10).text  # default: main port

    output = service.output()
    lines = [json.loads(line) for line in output.splitlines()]
    cli_lines = [line for text in session.cli_stderr for line in text.splitlines()]
    cli = [json.loads(line) for line in cli_lines if line.startswith("{")]
    # Besides its events, the CLI tells the person at the terminal to keep a generated secret.
    assert {line for line in cli_lines if not line.startswith("{")} == {
        "This secret is shown once and stored only as a digest; keep it now."
    }
    assert all({"time", "level", "logger", "event"} <= set(line) for line in lines + cli)
    assert Counter(line["logger"] for line in lines).keys() >= {
        "tokensmith.events",
        "tokensmith.supervisor",
        "uvicorn.error",
        "uvicorn.access",
    }
    [startup] = events(lines, "startup")
    assert startup["workers"] == 2
    assert startup["database"] == migrated_sqlite_url
    assert (startup["log_format"], startup["log_level"], startup["access_log"]) == (
        "json",
        "debug",
        True,
    )
    failed = events(lines, "client_auth_failed")
    assert [(e["client_id"], e["method"], e["reason"]) for e in failed] == [
        ("svc", "client_secret_basic", "bad_secret"),
        (clip(script.HOSTILE_ID), "client_secret_post", "unknown_client"),
        ("other", "client_secret_basic", "client_disabled"),
        ("svc", "private_key_jwt", "bad_assertion"),
    ]
    assert {(e["realm"], e["address"], e["level"]) for e in failed} == {
        ("acme", "127.0.0.1", "info")
    }
    [reuse] = events(lines, "refresh_token_reused")
    assert (reuse["realm"], reuse["client_id"], reuse["token_state"]) == ("acme", "svc", "used")
    assert reuse["family"]
    [limited] = events(lines, "rate_limited")
    assert (limited["realm"], limited["limit"], limited["address"]) == (
        "acme",
        "address",
        "127.0.0.1",
    )
    assert limited["retry_after"] > 0
    issued = Counter(e["grant"] for e in events(lines, "token_issued"))
    assert issued == {"client_credentials": script.CC_TOKENS, "refresh_token": 2}
    assert Counter(e["status"] for e in events(lines, "http_request"))[429] == 1
    assert [e["event"] for e in cli] == [
        "realm_created",
        "client_created",
        "secret_rotated",
        "client_created",
        "client_disabled",
        "key_rotated",
    ]
    assert cli[-1]["current_kid"] != cli[-1]["next_kid"]
    everything = output + "".join(session.cli_stderr) + metrics
    for secret in session.confidential:
        assert secret not in everything


def test_the_text_log_is_one_readable_line_per_event(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    """With the default text format, an event is one line of key=value pairs; a hostile client
    id stays on its line, quoted and escaped; no secret or token appears."""
    settings = make_settings(migrated_sqlite_url)
    session = script.administer(tmp_path, settings)

    with serving(tmp_path, settings, *EVERY_LOG_OPTION) as service:
        script.run(service.url, session)

    output = service.output()
    assert (
        "event=client_auth_failed realm=acme client_id=svc method=client_secret_basic "
        "address=127.0.0.1 reason=bad_secret"
    ) in output
    [hostile] = [line for line in output.splitlines() if "intruder" in line]
    assert 'client_id="intruder\\nxxx' in hostile
    assert len(hostile) < 300
    assert "event=refresh_token_reused realm=acme client_id=svc family=" in output
    assert "event=rate_limited realm=acme client_id=svc address=127.0.0.1 limit=address" in output
    assert "INFO:     event=key_rotated realm=acme current_kid=" in session.cli_stderr[-1]
    for secret in session.confidential:
        assert secret not in output + "".join(session.cli_stderr)


def test_database_unavailable_and_recovered_once_per_outage(
    sqlite_service: Service, caplog: pytest.LogCaptureFixture
) -> None:
    """While another process holds SQLite's write lock, three refreshes fail with 503 but log
    `database_unavailable` once (WARNING; each failure is a DEBUG `database_error`), and
    `database_recovered` follows once the lock is released, without a request."""
    service = sqlite_service
    caplog.set_level(logging.DEBUG, logger="tokensmith.events")
    run_admin(service.settings, lambda a: a.create_realm("acme"))
    new = run_admin(service.settings, lambda a: a.create_client("acme", "svc", refresh_tokens=True))
    assert new.secret is not None
    creds = {"client_id": "svc", "client_secret": new.secret}
    url = service.token_url("acme")
    token = service.http.post(url, data={"grant_type": "client_credentials", **creds}).json()
    path = sqlite_path(service.settings.database_url)
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **creds}
        statuses = [service.http.post(url, data=refresh).status_code for _ in range(3)]
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    def named(name: str) -> list[logging.LogRecord]:
        return [r for r in caplog.records if getattr(r.msg, "name", None) == name]

    assert eventually(lambda: len(named("database_recovered")) == 1)
    assert statuses == [503, 503, 503]
    [down] = named("database_unavailable")
    assert down.levelno == logging.WARNING
    assert len(named("database_error")) == 3


def test_the_startup_event_masks_passwords() -> None:
    """The database and Redis URLs of the startup event keep no password, nor a query string
    (which may carry one)."""
    assert masked_url("postgresql://tok:s3cret@db:5432/tok?sslpassword=x") == (
        "postgresql://tok:***@db:5432/tok?…"
    )
    assert masked_url("rediss://:s3cret@cache:6380/2") == "rediss://:***@cache:6380/2"
    assert masked_url("sqlite:////var/lib/tokensmith/t.db") == "sqlite:////var/lib/tokensmith/t.db"


def test_an_event_is_one_line_whatever_its_fields_hold() -> None:
    """A field with line breaks, quotes, an ANSI escape or a line separator is quoted and escaped
    in text and in JSON; a long one is cut."""
    record = logging.LogRecord("tokensmith.events", logging.INFO, "", 0, None, None, None)
    record.msg = Event("client_auth_failed", {"client_id": clip('a"\n\x1b[31m\u2028' + "z" * 500)})

    text = TextFormatter().format(record)
    line = JsonFormatter().format(record)

    assert text.isprintable()
    assert text.startswith(
        'INFO:     event=client_auth_failed client_id="a\\"\\n\\u001b[31m\\u2028zz'
    )
    assert line.isascii()
    assert line.isprintable()
    assert len(json.loads(line)["client_id"]) == MAX_TEXT

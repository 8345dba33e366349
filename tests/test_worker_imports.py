"""What a worker of `serve --workers N` holds in memory: the modules that serving the hot path
needs, not those that only other requests, the admin API or the CLI use (each one costs every
worker its share of RSS, bench/memory.py)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from tokensmith.server import Settings

from .conftest import make_settings, run_admin

# The worker's own path (uvicorn's Config loading the app factory, the protocol class and the
# lifespan, as run_worker does), then one of each hot-path request through the ASGI app, then
# the modules the process holds.
WORKER = """
import asyncio, base64, json, os, sys

import uvicorn

from tokensmith.server._serve import APP, uvicorn_options

config = uvicorn.Config(APP, factory=True, **uvicorn_options(log_level="warning"))
config.load()


async def call(method, path, body=b"", headers=()):
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1:8080"), *headers],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return pending.pop() if pending else {"type": "http.disconnect"}

    sent = {"body": b""}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
        else:
            sent["body"] += message.get("body", b"")

    await config.loaded_app(scope, receive, send)
    return sent["status"], sent["body"].decode()


async def main():
    lifespan = config.lifespan_class(config)
    await lifespan.startup()
    basic = b"Basic " + base64.b64encode(os.environ["TEST_CLIENT"].encode())
    form = (b"content-type", b"application/x-www-form-urlencoded")
    answers = {
        "token": await call(
            "POST",
            "/realms/acme/protocol/openid-connect/token",
            b"grant_type=client_credentials",
            [(b"authorization", basic), form],
        ),
        "jwks": await call("GET", "/realms/acme/protocol/openid-connect/certs"),
        "discovery": await call("GET", "/realms/acme/.well-known/openid-configuration"),
        "health": await call("GET", "/health/ready"),
        "metrics": await call("GET", "/metrics"),
    }
    await lifespan.shutdown()
    return answers


with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
    answers = runner.run(main())
print(json.dumps({"answers": answers, "modules": sorted(sys.modules)}))
"""

NOT_IN_A_WORKER = (
    "alembic",  # migrations: serve runs them before the workers start
    "asyncpg",  # the PostgreSQL driver, on SQLite
    "joserfc",  # verifying tokens (introspection, revocation, client assertions); signing needs
    # only cryptography
    "httpx",  # fetching a client's or a trusted issuer's keys
    "anyio",
    "argon2",  # secrets a person chose
    "opentelemetry",  # --tracing
    "difflib",
    "tokensmith.oauth._bearer",
    "tokensmith.core._verifier",
    "tokensmith.core._flow",
    "tokensmith.server._admin",
    "tokensmith.server._admin_api",
    "tokensmith.server._admin_checks",
    "tokensmith.server._keycloak",
    "tokensmith.server._demo",
    "tokensmith.server._trust",
)


def _worker_modules(tmp_path: Path, settings: Settings, client: str) -> dict[str, object]:
    metrics = tmp_path / "metrics"  # as serve --workers N gives its workers
    metrics.mkdir()
    env = {
        **os.environ,
        **settings.to_env(),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "TEST_CLIENT": client,
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


def _holds(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(f"{name}.") for m in modules)


def test_a_worker_serving_tokens_imports_only_what_the_hot_path_needs(tmp_path: Path) -> None:
    """A worker that has answered a client-credentials token, the JWKS, discovery, a readiness
    check and a metrics scrape (metrics on, as by default) has not imported Alembic, the
    PostgreSQL driver, joserfc, httpx, argon2, OpenTelemetry, the admin API or the CLI's
    helpers, nor h11 when it serves with httptools."""
    settings = make_settings(f"sqlite:///{tmp_path / 'tokensmith.db'}")
    run_admin(settings, lambda a: a.create_realm("acme"))
    new = run_admin(settings, lambda a: a.create_client("acme", "svc"))
    assert new.secret is not None

    found = _worker_modules(tmp_path, settings, f"svc:{new.secret}")

    answers = found["answers"]
    assert isinstance(answers, dict)
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(answers, 200)
    assert '"access_token":"' in answers["token"][1]
    modules = found["modules"]
    assert isinstance(modules, list)
    assert "tokensmith.server._app" in modules  # the child really ran the worker's path
    deferred = list(NOT_IN_A_WORKER)
    if importlib.util.find_spec("httptools") is not None:  # serve's default protocol then
        deferred.append("h11")
    assert [name for name in deferred if _holds(modules, name)] == []


def test_the_supervisor_imports_neither_logging_nor_typing(tmp_path: Path) -> None:
    """The supervisor of `serve --workers N`, alive as long as the service, loads neither
    ``logging`` nor ``typing`` (nor anything of the application): ~1.5 MB it would hold for
    nothing."""
    show = "import sys, tokensmith.server._supervisor; print(' '.join(sorted(sys.modules)))"

    done = subprocess.run(
        [sys.executable, "-c", show],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    modules = done.stdout.split()
    assert "tokensmith.server._supervisor" in modules
    held = [m for m in ("logging", "typing", "tokensmith.server._events") if m in modules]
    assert held == []

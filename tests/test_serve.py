"""`tokensmith serve` as a process: latency of keep-alive requests on every loop and worker count,
workers that stop with their supervisor, and a supervisor that carries no application."""

from __future__ import annotations

import importlib.util
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import httpx
import pytest

from .conftest import make_settings, run_admin
from .serve_process import children, process_gone, rss_bytes, serving

FAST = importlib.util.find_spec("uvloop") and importlib.util.find_spec("httptools")


@pytest.mark.parametrize(
    ("workers", "loop", "http"),
    [
        pytest.param(
            "2",
            "uvloop",
            "httptools",
            id="documented-install-2-workers",
            marks=pytest.mark.skipif(
                not FAST and not os.environ.get("CI"),
                reason="uvloop and httptools (part of [server] where wheels exist) are missing",
            ),
        ),
        pytest.param("2", "asyncio", "h11", id="fallback-2-workers"),
        pytest.param("1", "asyncio", "h11", id="fallback-1-worker"),
    ],
)
def test_keep_alive_token_requests_have_no_latency_floor(
    tmp_path: Path, workers: str, loop: str, http: str
) -> None:
    """Sequential keep-alive token requests answer well under the ~44 ms a response waits for the
    client's delayed ACK when TCP_NODELAY is off (as it was under --workers N with asyncio)."""
    settings = make_settings(f"sqlite:///{tmp_path / 'tokensmith.db'}")
    run_admin(settings, lambda a: a.create_realm("acme"))
    new = run_admin(settings, lambda a: a.create_client("acme", "svc"))
    assert new.secret is not None

    args = ("--workers", workers, "--loop", loop, "--http", http)
    with (
        serving(tmp_path, settings, *args) as service,
        httpx.Client(auth=("svc", new.secret), timeout=10) as client,
    ):
        url = f"{service.url}/realms/acme/protocol/openid-connect/token"
        times = []
        for i in range(25):
            started = time.perf_counter()
            response = client.post(url, data={"grant_type": "client_credentials"})
            if i >= 5:  # the first requests warm caches up
                times.append(time.perf_counter() - started)
            assert response.status_code == 200

    assert statistics.median(times) < 0.020


def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """After kill -9 of the `serve --workers 2` parent its workers exit within seconds, and a new
    `serve` binds the same port."""
    settings = make_settings(f"sqlite:///{tmp_path / 'tokensmith.db'}")

    with serving(tmp_path, settings, "--workers", "2") as first:
        workers = first.worker_pids(2)
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(5)
        deadline = time.monotonic() + 8
        while not all(process_gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in workers if not process_gone(pid)]
        for pid in left:  # do not leave them behind when the test fails
            os.kill(pid, signal.SIGKILL)
        assert left == [], first.output()

    with serving(tmp_path, settings, port=first.port) as second:
        assert httpx.get(second.url + "/health", timeout=5).status_code == 200
    assert "Traceback" not in first.output() + second.output()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_supervising_parent_carries_no_application(tmp_path: Path) -> None:
    """`serve --workers 2` is three processes, no multiprocessing helper beside them: a parent
    that never loaded SQLAlchemy or cryptography, and two workers that did; together they stay
    far below the 239 MB of RSS they took when the parent held the application (~145 MB)."""
    settings = make_settings(f"sqlite:///{tmp_path / 'tokensmith.db'}")

    with serving(tmp_path, settings, "--workers", "2") as service:
        workers = service.worker_pids(2)
        deadline = time.monotonic() + 30
        while service.output().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, service.output()
            time.sleep(0.05)
        parent = service.proc.pid
        tree = [parent, *children(parent)]
        maps = {pid: Path(f"/proc/{pid}/maps").read_text() for pid in tree}
        rss = sum(rss_bytes(pid) for pid in tree)

    assert sorted(tree[1:]) == sorted(workers)
    assert "sqlalchemy" not in maps[parent]
    assert "cryptography" not in maps[parent]
    assert all("cryptography" in maps[pid] for pid in workers)  # what the parent lacks
    assert rss < 190 * 2**20


def test_a_loop_or_parser_that_is_not_installed_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`serve --loop uvloop` or `--http httptools` without the package exits 1 with a message
    naming the extra to install, before touching the database."""
    from tokensmith.cli import main
    from tokensmith.server import _serve

    monkeypatch.setattr(_serve.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(_serve, "HTTP_PROTOCOLS", {"h11": _serve.HTTP_PROTOCOLS["h11"]})
    database = ["--database", f"sqlite:///{tmp_path / 'tokensmith.db'}"]

    loop = main(["serve", *database, "--loop", "uvloop"])
    loop_err = capsys.readouterr().err
    http = main(["serve", *database, "--http", "httptools"])
    http_err = capsys.readouterr().err

    assert (loop, http) == (1, 1)
    assert "--loop uvloop needs the uvloop package" in loop_err
    assert "pip install uvloop" in loop_err
    assert "--http httptools needs the httptools package" in http_err
    assert not (tmp_path / "tokensmith.db").exists()

"""Prometheus metrics under `serve --workers 2`: each counter at the value the scripted session
(tests/operator_session.py) makes it, summed over the workers, on the management port."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tokensmith.server import Settings, TokensmithApp

from . import operator_session as script
from .conftest import eventually, make_settings
from .serve_process import free_port, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> tuple[Samples, str]:
    """The samples of the exposition at ``url``, by name and labels, and its text."""
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples, answer.text


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels``; 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def counts(samples: Samples) -> dict[str, float]:
    """The counters the session sets, by a short name."""
    acme = {"realm": script.REALM}
    issued = "tokensmith_tokens_issued_total"
    failures = "tokensmith_client_auth_failures_total"
    return {
        "client_credentials": value(
            samples, issued, **acme, grant="client_credentials", client="svc"
        ),
        "refresh_token": value(samples, issued, **acme, grant="refresh_token", client="svc"),
        "bad_secret": value(samples, failures, **acme, reason="bad_secret"),
        "unknown_client": value(samples, failures, **acme, reason="unknown_client"),
        "client_disabled": value(samples, failures, **acme, reason="client_disabled"),
        "bad_assertion": value(samples, failures, **acme, reason="bad_assertion"),
        "refused": value(samples, "tokensmith_rate_limit_refusals_total", **acme, limit="address"),
        "reused": value(samples, "tokensmith_refresh_token_reuse_total", **acme),
        "token_requests": value(
            samples, "tokensmith_request_duration_seconds_count", endpoint="token"
        ),
        "database_errors": value(samples, "tokensmith_database_errors_total"),
    }


EXPECTED = {
    "client_credentials": script.CC_TOKENS,
    "refresh_token": 2,
    "bad_secret": 1,
    "unknown_client": 1,
    "client_disabled": 1,
    "bad_assertion": 1,
    "refused": 1,
    "reused": 1,
    "token_requests": script.CC_TOKENS + 3 + script.ADDRESS_LIMIT + 1,
    "database_errors": 0,
}


def test_counters_after_the_session_summed_over_two_workers(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    """After the session, the management port's /metrics holds every counter at its value
    (summed over both workers), the gauges of the realm, and no secret, token or
    unauthenticated client id; a worker killed and restarted leaves the totals as they were,
    and the private metrics directory is gone once the service stops."""
    settings = make_settings(migrated_sqlite_url)
    session = script.administer(tmp_path, settings)
    management = free_port()

    with serving(
        tmp_path, settings, "--workers", "2", "--management-port", str(management)
    ) as service:
        pids = service.worker_pids(2)
        directory = _environ(pids[0])["PROMETHEUS_MULTIPROC_DIR"]
        script.run(service.url, session)
        metrics_url = f"http://127.0.0.1:{management}/metrics"
        # Each worker passes its counts on every poll interval (0.1 s here).
        assert eventually(lambda: counts(scrape(metrics_url)[0]) == EXPECTED)
        samples, text = scrape(metrics_url)
        on_main_port = httpx.get(service.url + "/metrics", timeout=10)
        health = httpx.get(f"http://127.0.0.1:{management}/health", timeout=10)
        elsewhere = httpx.get(f"http://127.0.0.1:{management}/realms/acme", timeout=10)
        os.kill(pids[0], signal.SIGKILL)
        service.worker_pids(3)  # the supervisor started a replacement
        after_restart, _ = scrape(metrics_url)

    assert counts(samples) == EXPECTED
    assert value(samples, "tokensmith_database_up") == 1
    assert value(samples, "tokensmith_signing_key_age_seconds", realm="acme") >= 0
    assert ("tokensmith_signing_key_age_seconds", frozenset({("realm", "acme")})) in samples
    assert value(samples, "tokensmith_cache_entries", cache="realms") == 1
    for secret in session.confidential:
        assert secret not in text
    assert "intruder" not in text
    assert (on_main_port.status_code, health.status_code, elsewhere.status_code) == (404, 200, 404)
    assert counts(after_restart) == EXPECTED
    assert not Path(directory).exists()


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


async def test_no_metrics_means_no_metrics_endpoint(tmp_path: Path) -> None:
    """With metrics off (--no-metrics), /metrics is no endpoint: 404."""
    app = TokensmithApp(Settings(database_url=f"sqlite:///{tmp_path / 'db'}", metrics=False))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            answer = await c.get("/metrics")
    finally:
        await app.shutdown()

    assert answer.status_code == 404

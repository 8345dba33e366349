"""The OpenAPI document at /openapi.json and the reference page at /docs, over real HTTP against
`tokensmith serve`; and schemathesis against the live service with an admin token: no answer is a
5xx, none breaks the document (status codes, content types, headers, bodies), invalid requests are
refused.

The suite runs a bounded schemathesis pass (TOKENSMITH_FUZZ_EXAMPLES per operation, default 25:
about 1,500 cases); the exhaustive run is the same test with TOKENSMITH_FUZZ_EXAMPLES=400
(over 10,000 cases)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tokensmith.oauth import GRANT_TYPES
from tokensmith.server import _routes as routes
from tokensmith.server._admin_api import ROUTES
from tokensmith.server._openapi import _grant_models, document

from .serve_process import serving
from .test_admin_api import Admin, admin, settings, tokensmith

__all__ = ["admin"]  # the fixture, imported for its use here

EXAMPLES = int(os.environ.get("TOKENSMITH_FUZZ_EXAMPLES", "25"))


def test_the_document_describes_every_route_from_the_route_tables() -> None:
    doc = document()
    paths = doc["paths"]

    assert doc["openapi"] == "3.1.0"
    for endpoint in routes.ENDPOINTS:
        operations = paths[f"/realms/{{realm}}{endpoint.path}"]
        assert {m.upper() for m in operations if m != "parameters"} == {
            m for m in endpoint.methods if m != "HEAD"
        }
    for route in ROUTES:
        assert set(paths[f"{routes.ADMIN}{route.path}"]) == {m.lower() for m in route.operations}
    assert set(_grant_models()) == set(GRANT_TYPES)
    for name in ("/health/live", "/health/ready", "/metrics"):
        assert "get" in paths[name]
    ids = [op["operationId"] for p in paths.values() for m, op in p.items() if m != "parameters"]
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r"#/components/schemas/(\w+)", json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"])  # every model named is described


def test_openapi_and_the_reference_page_are_served_without_a_cdn(tmp_path: Path) -> None:
    assert tokensmith(tmp_path, "db", "upgrade").returncode == 0
    with serving(tmp_path, settings(tmp_path)) as service:
        doc = httpx.get(f"{service.url}/openapi.json")
        page = httpx.get(f"{service.url}/docs")
        assets = {
            name: httpx.get(f"{service.url}/docs/assets/{name}")
            for name in ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js")
        }
        missing = httpx.get(f"{service.url}/docs/assets/LICENSE")
        climbing = httpx.get(f"{service.url}/docs/assets/..%2F_openapi.py")
        posted = httpx.post(f"{service.url}/openapi.json")
        legacy = httpx.get(f"{service.url}/auth/openapi.json")

    assert doc.status_code == 200
    assert doc.json() == json.loads(json.dumps(document()))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(not s.startswith(("http:", "https:", "//")) for s in sources)
    assert assets["swagger-ui-bundle.js"].headers["content-type"].startswith("text/javascript")
    assert assets["swagger-ui.css"].headers["content-type"].startswith("text/css")
    assert "openapi.json" in assets["docs.js"].text
    assert all(a.status_code == 200 for a in assets.values())
    assert missing.status_code == climbing.status_code == legacy.status_code == 404
    assert posted.status_code == 405


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    admin: Admin, tmp_path: Path
) -> None:
    """Every operation, with real realm names, ids and a real client's credentials mixed into
    what schemathesis generates: coverage, fuzzing and stateful phases, every check but
    positive_data_acceptance (a well-formed request with a wrong secret or an unknown realm is
    rightly refused, which that check counts as a failure)."""
    made = tokensmith(
        admin.workdir, "client", "create", "acme", "svc", "--scope", "read write", "--json"
    )
    assert made.returncode == 0, made.stderr
    secret = json.loads(made.stdout)["client_secret"]
    token = admin.token()
    longer = admin.call("PUT", "/admin/realms/master", token, json={"accessTokenLifespan": 3600})
    assert longer.status_code == 204
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"""
[dictionaries.realms]
values = ["acme", "master"]
[dictionaries.ids]
values = ["1", "2", "3"]
[dictionaries.clients]
values = ["svc"]
[dictionaries.secrets]
values = ["{secret}"]
[parameters]
"path.realm" = {{ dictionary = "realms", probability = 0.7 }}
"path.id" = {{ dictionary = "ids", probability = 0.7 }}
"body.client_id" = {{ dictionary = "clients", probability = 0.7 }}
"body.client_secret" = {{ dictionary = "secrets", probability = 0.7 }}
[[operations]]
include-path-regex = "^/admin/"
headers = {{ Authorization = "Bearer ${{ADMIN_TOKEN}}" }}
"""
    )
    env = {**os.environ, "ADMIN_TOKEN": admin.token()}
    runs = []
    # Deleting a realm last: earlier, it would leave every later case a 404.
    for selection in (
        ["--exclude-operation-id", "DeleteRealm"],
        ["--include-operation-id", "DeleteRealm"],
    ):
        runs.append(
            subprocess.run(
                [
                    str(Path(sys.executable).with_name("schemathesis")),
                    "--config-file",
                    str(config),
                    "run",
                    f"{admin.service.url}/openapi.json",
                    "--max-examples",
                    str(EXAMPLES),
                    "--checks",
                    "all",
                    "--exclude-checks",
                    "positive_data_acceptance",
                    "--seed",
                    "20261123",
                    "--report-dir",
                    str(tmp_path / "report"),
                    *selection,
                ],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp_path,
                timeout=1800,
            )
        )
    log = admin.service.output()

    for run in runs:
        summary = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
        assert run.returncode == 0, run.stdout[-6000:]
        assert summary is not None, run.stdout[-3000:]
        assert summary[1] == summary[2]
    cases = sum(int(re.search(r"(\d+) generated", r.stdout)[1]) for r in runs)  # type: ignore[index]
    print(f"schemathesis: {cases} cases, all passed")
    assert cases >= 30 * EXAMPLES
    assert "unexpected error" not in log
    assert secret not in log


@pytest.mark.parametrize("method", ["TRACE", "POST"])
def test_health_and_metrics_take_only_get_and_head(tmp_path: Path, method: str) -> None:
    assert tokensmith(tmp_path, "db", "upgrade").returncode == 0
    with serving(tmp_path, settings(tmp_path)) as service:
        answers = [
            httpx.request(method, f"{service.url}{path}")
            for path in ("/health", "/health/live", "/health/ready", "/metrics")
        ]
        heads = [httpx.head(f"{service.url}{path}") for path in ("/health", "/metrics", "/docs")]

    assert [a.status_code for a in answers] == [405] * 4
    assert all(a.headers["allow"] == "GET, HEAD" for a in answers)
    assert [h.status_code for h in heads] == [200] * 3
    assert all(h.content == b"" for h in heads)

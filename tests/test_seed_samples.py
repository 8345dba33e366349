"""Every code sample of the seeds (tests/fixtures, copies of ../shared/seeds) runs against
`tokensmith serve --demo` (what `make run` starts) in its own language, host and credentials
aside: GBG's curl, JavaScript (XMLHttpRequest, in a jsdom page on Node) and PHP (php-cli with
php-curl, which sends multipart/form-data), and Trulioo's raw HTTP request. The Truphone and
1GLOBAL curl commands are in test_seeds.py; their `curl -H "Authorization: Bearer …"` lines call
the vendors' own APIs, not a token service.

GBG's C# and Java (Spring) samples are not run: neither .NET nor Spring is installed here. Read,
they send urlencoded forms: C# builds a ``FormUrlEncodedContent`` (``Content-Type:
application/x-www-form-urlencoded``), and Spring's ``RestTemplate`` writes a ``MultiValueMap`` of
strings with no content type set through ``FormHttpMessageConverter``, which picks multipart only
when the type says so or a value is not a string, so it sends ``application/x-www-form-urlencoded;
charset=UTF-8``. :func:`test_csharp_and_java_samples_send_urlencoded_forms` checks the samples
still read so and sends what those libraries put on the wire.

Documentation bugs, which stay bugs: GBG's curl writes ``- H`` (curl refuses it before sending
anything), and Trulioo's request says ``Content-Length: 150`` for a 98-byte body (a client that
sent it as written would leave the server waiting for 52 bytes that never come).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
GBG = (FIXTURES / "002_746353d24479f9c1.txt").read_text()
TRULIOO = (FIXTURES / "003_f214cc132044ca31.txt").read_text()
BROWSER_DIR = Path(__file__).with_name("node_browser")
GBG_HOST = "https://api.gbgplc.com"
# The docs' example id_token: an unsigned base64 blob, which the service refuses as such.
EXAMPLE_ID_TOKEN = re.findall(r"id_token=(eyJ[A-Za-z0-9_-]+)", GBG)[0]


def sample(pattern: str) -> str:
    """The one GBG code sample that ``pattern`` matches, from its first line to its last."""
    found = re.findall(pattern, GBG, flags=re.S)
    assert len(found) == 1, pattern
    text: str = found[0]
    return text


def required(tool: str, why: str) -> None:
    """Skip the test when ``tool`` is missing, or fail it under CI, where .ci/run installs it."""
    if shutil.which(tool) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is not installed: {why}, and .ci/run installs it")
        pytest.skip(f"{tool} is not installed: {why}")


def demo_id_token(workdir: str) -> str:
    """An id_token the demo realm gbg accepts, from `tokensmith issuer demo-token gbg`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    made = subprocess.run(
        [sys.executable, "-m", "tokensmith", "issuer", "demo-token", "gbg", "--sub", "alice"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return made.stdout.strip()


def gbg_claims(base: str, token: str) -> dict[str, Any]:
    """The claims of an access token of realm gbg, verified against its JWKS."""
    jwks = httpx.get(f"{base}/realms/gbg/protocol/openid-connect/certs").json()
    keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
    key = keys[jwt.get_unverified_header(token)["kid"]]
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"], audience="gbg")
    return claims


def localized(code: str, base: str, id_token: str) -> str:
    """A sample with the service's host and a real id_token in place of the docs' ones."""
    return code.replace(GBG_HOST, base).replace(EXAMPLE_ID_TOKEN, id_token)


@pytest.fixture(scope="session")
def browser() -> Path:
    """tests/node_browser with jsdom installed from its lock file (npm ci, once)."""
    required("node", "it runs GBG's JavaScript sample")
    required("npm", "it installs jsdom for GBG's JavaScript sample")
    if not (BROWSER_DIR / "node_modules" / "jsdom").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=BROWSER_DIR,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return BROWSER_DIR


@pytest.fixture(scope="session")
def php() -> str:
    """php-cli with the curl extension, as .ci/run installs them from Debian."""
    required("php", "Debian's php-cli runs GBG's PHP sample")
    has_curl = subprocess.run(
        ["php", "-r", "exit(function_exists('curl_init') ? 0 : 1);"], timeout=30, check=False
    )
    if has_curl.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("php has no curl extension (Debian's php-curl), and .ci/run installs it")
        pytest.skip("php has no curl extension (Debian's php-curl): GBG's PHP sample needs it")
    return "php"


def run_js(browser: Path, base: str, code: str, tmp_path: Path) -> Any:
    """Run ``code`` in a page on the service's origin; what it logged, as JSON."""
    script = tmp_path / "sample.js"
    script.write_text(code)
    run = subprocess.run(
        ["node", "run_in_page.mjs", base + "/", str(script)],
        cwd=browser,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def run_php(php: str, code: str) -> dict[str, str]:
    """Run ``code`` with php-cli; the fields its ``print_r($json)`` printed."""
    run = subprocess.run(
        [php], input="<?php\n" + code + "\n", capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "Error:" not in run.stdout, run.stdout
    return dict(re.findall(r"^\s*\[(\w+)\] => (.*)$", run.stdout, flags=re.M))


JS = r'var data = "".*?xhr\.send\(data\);'
PHP = r"\$url = .*?print_r\(\$json\);"
CURL = r"curl -X POST \\.*?\"https://api\.gbgplc\.com[^\"]*\""


def test_fixtures_are_the_seeds() -> None:
    """Each seed in ../shared/seeds has its byte-for-byte copy in tests/fixtures, so no sample
    goes untested when a seed is added or changed."""
    if not SHARED_SEEDS.is_dir():
        pytest.skip(f"{SHARED_SEEDS} is not beside this checkout")

    for seed in SHARED_SEEDS.iterdir():
        assert (FIXTURES / seed.name).read_bytes() == seed.read_bytes(), seed.name


def test_gbg_javascript_runs_unchanged(
    demo: tuple[str, str], browser: Path, tmp_path: Path
) -> None:
    """GBG's XMLHttpRequest sample, run in a page on the service's origin, logs a GBG answer
    whose token is alice's (from another origin, a browser would also need the realm to list
    the page's origin: `realm create --cors-origin`)."""
    base, workdir = demo
    code = localized(sample(JS), base, demo_id_token(workdir))

    answer = run_js(browser, base, code, tmp_path)

    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "api api2"
    assert gbg_claims(base, answer["access_token"])["sub"] == "alice"


def test_gbg_javascript_verbatim_gets_a_clear_invalid_grant(
    demo: tuple[str, str], browser: Path, tmp_path: Path
) -> None:
    """With the docs' own example id_token, the JavaScript sample logs invalid_grant saying
    why."""
    base, _ = demo

    answer = run_js(browser, base, sample(JS).replace(GBG_HOST, base), tmp_path)

    assert answer["error"] == "invalid_grant"
    assert "not a signed JWT" in answer["error_description"]


def test_gbg_php_runs_unchanged(demo: tuple[str, str], php: str) -> None:
    """GBG's PHP sample (an array in CURLOPT_POSTFIELDS: multipart/form-data) prints a GBG
    answer whose token is alice's."""
    base, workdir = demo
    code = localized(sample(PHP), base, demo_id_token(workdir))

    answer = run_php(php, code)

    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "api api2"
    assert answer["expires_in"] == "300"
    assert gbg_claims(base, answer["access_token"])["sub"] == "alice"


def test_gbg_php_verbatim_gets_a_clear_invalid_grant(demo: tuple[str, str], php: str) -> None:
    """With the docs' own example id_token, the PHP sample prints invalid_grant saying why."""
    base, _ = demo

    answer = run_php(php, sample(PHP).replace(GBG_HOST, base))

    assert answer["error"] == "invalid_grant"
    assert "not a signed JWT" in answer["error_description"]


def test_gbg_curl_runs_once_its_stray_space_is_mended(demo: tuple[str, str]) -> None:
    """GBG's curl, with `- H` mended to `-H` (a documentation bug: curl refuses `- H` itself,
    "option -: is unknown"), gets alice's token from the demo."""
    base, workdir = demo
    command = localized(sample(CURL), base, demo_id_token(workdir))

    verbatim = subprocess.run(
        ["bash", "-c", command + " -s"], capture_output=True, text=True, timeout=30
    )
    mended = subprocess.run(
        ["bash", "-c", command.replace("- H '", "-H '") + " -s"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    assert verbatim.returncode != 0
    assert "option -: is unknown" in verbatim.stderr
    assert gbg_claims(base, json.loads(mended.stdout)["access_token"])["sub"] == "alice"


def test_csharp_and_java_samples_send_urlencoded_forms(demo: tuple[str, str]) -> None:
    """The C# sample builds FormUrlEncodedContent and the Java one a MultiValueMap of strings
    with no content type (urlencoded, see the module docstring); the fields in their order, as
    those libraries encode them, get alice's token."""
    base, workdir = demo
    csharp = sample(r"var client = new HttpClient\(\);.*?Console\.WriteLine\(responseString\);")
    java = sample(r"HttpHeaders headers = new HttpHeaders\(\);.*?//DO STUFF")
    csharp_fields = re.findall(
        r'formItems\.Add\(new KeyValuePair<string, string>\("(\w+)", "', csharp
    )
    java_fields = re.findall(r'body\.add\("(\w+)",', java)
    id_token = demo_id_token(workdir)
    form = {
        "client_id": "ro.client",
        "grant_type": "id_auth",
        "client_secret": "secret",
        "scope": "api api2",
        "id_token": id_token,
    }
    wire = "&".join(f"{name}={form[name].replace(' ', '+')}" for name in csharp_fields)

    answers = [
        httpx.post(
            f"{base}/authenticate/v1/connect/token",
            content=wire.encode(),
            headers={"content-type": content_type},
        )
        for content_type in (
            "application/x-www-form-urlencoded",  # .NET's FormUrlEncodedContent
            "application/x-www-form-urlencoded;charset=UTF-8",  # Spring's FormHttpMessageConverter
        )
    ]

    assert "new FormUrlEncodedContent(formItems)" in csharp
    assert "MultiValueMap<String, String> body" in java
    assert "setContentType" not in java
    assert csharp_fields == java_fields == list(form)
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert gbg_claims(base, answer.json()["access_token"])["sub"] == "alice"


def test_trulioo_raw_request_works_with_its_true_content_length(demo: tuple[str, str]) -> None:
    """Trulioo's documented HTTP request, sent over a socket with the Host replaced and a true
    Content-Length, gets the PascalCase answer; the docs' `Content-Length: 150` is wrong (the
    body is 98 bytes: a documentation bug)."""
    base, _ = demo
    lines = TRULIOO.split("Request\n", 1)[1].split("\nResponse", 1)[0].splitlines()
    request_line, headers, body = lines[0], lines[1:-1], lines[-1].encode()
    declared = int(next(h for h in headers if h.startswith("Content-Length:")).split(":")[1])
    host, port = base.removeprefix("http://").split(":")
    kept = [h for h in headers if not h.startswith(("Host:", "Content-Length:"))]
    head = [request_line, f"Host: {host}:{port}", *kept, f"Content-Length: {len(body)}"]
    raw = ("\r\n".join([*head, "Connection: close"]) + "\r\n\r\n").encode() + body

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))

    assert (declared, len(body)) == (150, 98)
    assert answer.startswith(b"HTTP/1.1 200 ")
    parsed = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert list(parsed) == ["Token", "TokenType", "ExpiresIn", "scope"]
    assert parsed["scope"] == "workflow.studio.api"

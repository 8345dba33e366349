"""The web console at /console over real HTTP against `tokensmith serve`, and in a real browser:
Playwright drives Debian's Chromium (/usr/bin/chromium; `playwright install` downloads do not
work here), signs in with an admin client, creates a client, copies its secret and uses it with
curl, rotates it, disables and enables it; axe-core (tests/fixtures/axe-core) checks every page.
Without chromium or Playwright the browser tests are skipped, and under CI=true (.ci/run installs
them) they fail."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tokensmith.server import Settings
from tokensmith.server._keys import new_master_key_value

from .cli_run import CliRun, run_cli
from .conftest import eventually
from .serve_process import Serving, free_port, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "fixtures" / "axe-core" / "axe.min.js"
MASTER_KEY = new_master_key_value()
PAGES = ("realms", "clients", "keys", "issuers", "events", "activity")


def settings(workdir: Path, **kwargs: Any) -> Settings:
    return Settings(
        database_url=f"sqlite:///{workdir / 'console.db'}",
        master_key=MASTER_KEY,
        poll_interval=0.2,
        last_used_interval=0.2,
        **kwargs,
    )


def tokensmith(workdir: Path, *args: str) -> CliRun:
    """The command run in a thread of its own: Playwright keeps an event loop in this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(settings(workdir).to_env())
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(run_cli, *args, cwd=workdir, env=env).result()


@dataclass
class Console:
    service: Serving
    ops_secret: str
    auditor_secret: str
    workdir: Path

    @property
    def url(self) -> str:
        return self.service.url + "/console/"

    def curl_token(self, client_id: str, secret: str) -> tuple[int, dict[str, Any]]:
        """The token endpoint's status and JSON answer to curl with HTTP Basic."""
        done = subprocess.run(
            [
                require_tool("curl"),
                "-s",
                "-u",
                f"{client_id}:{secret}",
                "-d",
                "grant_type=client_credentials",
                "-w",
                "\n%{http_code}",
                f"{self.service.url}/realms/acme/protocol/openid-connect/token",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        body, _, status = done.stdout.rpartition("\n")
        return int(status), json.loads(body)


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not installed (apt-get install {name})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A served database with realm acme, an admin client `ops` and a read-only one `auditor`."""
    workdir = tmp_path_factory.mktemp("console")
    assert tokensmith(workdir, "db", "upgrade").returncode == 0
    assert tokensmith(workdir, "realm", "create", "acme").returncode == 0
    ops = tokensmith(workdir, "admin", "create-client", "ops", "--json")
    auditor = tokensmith(workdir, "admin", "create-client", "auditor", "--read-only", "--json")
    assert ops.returncode == auditor.returncode == 0, ops.stderr + auditor.stderr
    with serving(workdir, settings(workdir)) as service:
        yield Console(
            service,
            json.loads(ops.stdout)["client_secret"],
            json.loads(auditor.stdout)["client_secret"],
            workdir,
        )


def raw_get(service: Serving, path: str) -> http.client.HTTPResponse:
    """GET ``path`` exactly as written (no client-side removal of dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=5)
    conn.request("GET", path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


# --- over HTTP ----------------------------------------------------------------------------------


def test_the_console_files_carry_their_types_and_a_strict_policy(console: Console) -> None:
    """The page, its stylesheet and its modules are served with their content types, revalidated
    on each load, under a Content-Security-Policy without inline script or framing, nosniff."""
    with httpx.Client(base_url=console.service.url) as http:
        page = http.get("/console/")
        style = http.get("/console/console.css")
        module = http.get("/console/js/app.js")

    assert page.status_code == style.status_code == module.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    for answer in (page, style, module):
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self';" in policy
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-cache"
    assert "<script>" not in page.text  # no inline script: the policy would refuse it
    assert "//" not in page.text  # no URL of another host: nothing from elsewhere


def test_an_unchanged_file_is_not_sent_again(console: Console) -> None:
    """A request with the file's ETag in If-None-Match gets 304 without a body."""
    first = httpx.get(console.service.url + "/console/js/api.js")

    again = httpx.get(
        console.service.url + "/console/js/api.js",
        headers={"if-none-match": first.headers["etag"]},
    )

    assert again.status_code == 304
    assert again.content == b""


def test_console_without_slash_redirects_relative(console: Console) -> None:
    """/console redirects to console/ (relative, so that it works behind a proxy's path)."""
    answer = httpx.get(console.service.url + "/console")

    assert answer.status_code == 308
    assert answer.headers["location"] == "console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/../health",
        "/console/%2e%2e/health",
        "/console/js/../../console/index.html",
        "/console/js/%2E%2E/index.html",
        "/console/js",
        "/console/js/",
        "/console/nothing.js",
        "/console/..%2f_app.py",
        "/console/%2fetc%2fpasswd",
        "/console//etc/passwd",
    ],
)
def test_paths_outside_the_console_files_are_404(console: Console, path: str) -> None:
    """Only the console's files are served: dot segments, encoded or not, folders and unknown
    names are 404."""
    answer = raw_get(console.service, path)

    assert answer.status == 404
    assert answer.getheader("content-security-policy") is not None


def test_the_console_is_read_only(console: Console) -> None:
    """A POST to the console is 405 with Allow."""
    answer = httpx.post(console.service.url + "/console/", content=b"x")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD"


def test_the_console_can_be_turned_off(tmp_path: Path) -> None:
    """With --no-console, or TOKENSMITH_CONSOLE=false, /console is 404 like any unknown path."""
    assert tokensmith(tmp_path, "db", "upgrade").returncode == 0

    with serving(tmp_path, settings(tmp_path), "--no-console") as service:
        by_option = httpx.get(service.url + "/console/")
    with serving(tmp_path, settings(tmp_path, console=False)) as service:
        by_variable = httpx.get(service.url + "/console/")
        assert "TOKENSMITH_CONSOLE" in settings(tmp_path, console=False).to_env()

    assert by_option.status_code == by_variable.status_code == 404


def test_the_console_is_not_on_the_management_port(tmp_path: Path) -> None:
    """With a management port, the console is served on the main port only."""
    assert tokensmith(tmp_path, "db", "upgrade").returncode == 0
    management = free_port()

    with serving(tmp_path, settings(tmp_path), "--management-port", str(management)) as service:
        main = httpx.get(service.url + "/console/")
        other = httpx.get(f"http://127.0.0.1:{management}/console/")

    assert main.status_code == 200
    assert other.status_code == 404


# --- in Chromium --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium under Playwright."""
    missing = None
    if not os.path.exists(CHROMIUM):
        missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install playwright; it is in the dev group)"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser, console: Console) -> Iterator[BrowserContext]:
    """A fresh browser profile at 1280x800 that may use the clipboard."""
    made = browser.new_context(viewport={"width": 1280, "height": 800})
    made.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.service.url)
    try:
        yield made
    finally:
        made.close()


def open_console(context: BrowserContext, console: Console) -> tuple[Page, list[str]]:
    """A page at the console and the Content-Security-Policy complaints it logs."""
    page = context.new_page()
    complaints: list[str] = []
    page.on(
        "console",
        lambda message: (
            complaints.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(console.url)
    page.wait_for_selector("#signin-form")
    return page, complaints


def sign_in(page: Page, client_id: str, secret: str) -> None:
    page.fill("#signin-id", client_id)
    page.fill("#signin-secret", secret)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#app-view:not([hidden]) #page-title")


def go(page: Page, name: str) -> None:
    """Open the page ``name`` from the left navigation and wait until it is drawn."""
    page.click(f"[data-nav={name}]")
    page.wait_for_selector(f"[data-nav={name}][aria-current=page]")
    page.wait_for_selector("#page:not([aria-busy]) #page-title")


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations of serious or critical impact on the page as it is now."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # evaluated over the DevTools protocol, past the CSP
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                              nodes: v.nodes.map((n) => n.target.join(" "))}));
        }"""
    )
    return found


def secret_shown(page: Page) -> str:
    page.wait_for_selector("#secret-value")
    value: str = page.input_value("#secret-value")
    return value


def test_an_admin_manages_a_client_in_the_browser(
    context: BrowserContext, console: Console, tmp_path: Path
) -> None:
    """Signed in with an admin client, the console creates a client whose secret, copied from the
    page, gets tokens with curl; a rotation with a grace period keeps both secrets working, one
    without ends the old; disabling the client refuses it, enabling it lets it in again. Every
    page passes axe-core without serious violations, logs no CSP complaint and keeps the token out
    of storage and cookies."""
    page, complaints = open_console(context, console)
    assert serious_violations(page) == []
    page.screenshot(path=tmp_path / "signin.png")
    sign_in(page, "ops", console.ops_secret)

    go(page, "clients")
    page.fill("#client-id", "billing")
    page.fill("#client-scopes", "invoices.read")
    page.click("#new-client ~ .row button[type=submit]")
    first = secret_shown(page)
    page.click("text=Copy secret")
    page.wait_for_selector("text=Copied to the clipboard.")
    copied = page.evaluate("navigator.clipboard.readText()")
    page.screenshot(path=tmp_path / "client-created.png", full_page=True)
    status, answer = console.curl_token("billing", copied)

    assert copied == first
    assert len(first) >= 32
    assert status == 200, answer
    assert answer["scope"] == "invoices.read"
    assert page.inner_text("[data-client=billing]") == "billing"

    page.click("[aria-label='Rotate secret of billing']")
    page.fill("#grace", "60")
    page.click("#rotation button[type=submit]")
    page.wait_for_selector("#secret-title:has-text('New secret of billing')")
    second = secret_shown(page)
    page.screenshot(path=tmp_path / "secret-rotated.png", full_page=True)

    assert second != first
    assert eventually(lambda: console.curl_token("billing", second)[0] == 200)
    assert console.curl_token("billing", first)[0] == 200  # within its grace period

    page.click("[aria-label='Rotate secret of billing']")
    page.fill("#grace", "0")
    page.click("#rotation button[type=submit]")
    page.wait_for_function(
        "(old) => document.querySelector('#secret-value')?.value !== old", arg=second
    )
    third = secret_shown(page)

    assert eventually(lambda: console.curl_token("billing", third)[0] == 200)
    assert eventually(lambda: console.curl_token("billing", second)[0] == 401)

    page.click("[aria-label='Disable billing']")
    page.wait_for_selector("[data-client=billing] >> xpath=ancestor::tr//*[@data-enabled='false']")

    assert eventually(lambda: refused(console.curl_token("billing", third)))

    page.click("[aria-label='Enable billing']")
    page.wait_for_selector("[data-client=billing] >> xpath=ancestor::tr//*[@data-enabled='true']")

    assert eventually(lambda: console.curl_token("billing", third)[0] == 200)

    go(page, "keys")
    before = page.inner_text("[data-state=current] >> xpath=ancestor::tr")
    page.click("text=Rotate keys")
    page.wait_for_selector("[data-state=previous]")
    after = page.inner_text("[data-state=current] >> xpath=ancestor::tr")
    assert before != after
    assert page.locator("[data-state=next]").count() == 1

    for name in PAGES:
        go(page, name)
        if name == "activity":
            page.wait_for_selector(
                "#totals:has-text('Since the service'), #page .error:not([hidden])"
            )
        page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
        assert serious_violations(page) == [], name
        if name == "clients":  # a secret is shown once: not when the page is opened again
            assert page.locator("#secret-value").count() == 0
    stored = page.evaluate(
        "() => [localStorage.length, sessionStorage.length, document.cookie, "
        "JSON.stringify({...localStorage}) + JSON.stringify({...sessionStorage})]"
    )
    assert stored == [0, 0, "", "{}{}"]
    assert context.cookies() == []
    assert complaints == []
    assert {p.name for p in tmp_path.glob("*.png")} >= {f"{n}.png" for n in PAGES}


def refused(answer: tuple[int, dict[str, Any]]) -> bool:
    """Whether the token endpoint answered 401 invalid_client."""
    status, body = answer
    return status == 401 and body.get("error") == "invalid_client"


def test_sign_in_with_the_keyboard_alone(context: BrowserContext, console: Console) -> None:
    """Typing the id, Tab, the secret and Enter signs in; Tab reaches the navigation, whose
    focused link is outlined, and Enter opens its page."""
    page, _ = open_console(context, console)

    page.keyboard.type("ops")
    page.keyboard.press("Tab")
    page.keyboard.type(console.ops_secret)
    page.keyboard.press("Enter")
    page.wait_for_selector("#app-view:not([hidden]) #page-title")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.nav") == "keys":
            break
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-nav=keys][aria-current=page]")
    page.wait_for_selector("#page:not([aria-busy]) #page-title")

    assert outline not in ("", "none")
    assert page.inner_text("#page-title") == "Signing keys of acme"
    assert page.evaluate("document.activeElement.id") == "page-title"  # read out first


def test_realms_and_trusted_issuers_from_the_console(
    context: BrowserContext, console: Console, tmp_path: Path
) -> None:
    """The console creates a realm, changes its token lifetimes, trusts an issuer in it and
    stops trusting it, then deletes the realm; the API shows each change."""
    page, _ = open_console(context, console)
    sign_in(page, "ops", console.ops_secret)
    headers = admin_headers(console)

    def admin_get(path: str) -> httpx.Response:
        return httpx.get(console.service.url + path, headers=headers)

    go(page, "realms")
    page.fill("#realm-name", "shop")
    page.click("#new-realm ~ .row button[type=submit]")
    page.wait_for_selector("#page:not([aria-busy]) #lifetimes:has-text('shop')")
    page.fill("#life-access", "120")
    page.fill("#life-refresh", "7200")
    page.click("text=Save lifetimes")
    page.wait_for_selector("#notice:has-text('Lifetimes of shop saved.')")
    realm = admin_get("/admin/realms/shop").json()

    go(page, "issuers")
    page.fill("#issuer-url", "https://sso.example.com")
    page.fill("#issuer-jwks", "https://sso.example.com/jwks")
    page.fill("#issuer-aud", "api")
    page.click("text=Add issuer")
    page.wait_for_selector("td:has-text('https://sso.example.com/jwks')")
    page.screenshot(path=tmp_path / "issuers.png", full_page=True)
    trusted = admin_get("/admin/realms/shop/trusted-issuers").json()
    page.click("[aria-label='Delete trusted issuer https://sso.example.com']")
    page.wait_for_selector("text=No trusted issuers.")
    after = admin_get("/admin/realms/shop/trusted-issuers").json()

    go(page, "realms")
    page.click("[aria-label='Delete realm shop']")
    page.wait_for_selector("#notice:has-text('Realm shop deleted.')")
    gone = admin_get("/admin/realms/shop")

    assert (realm["accessTokenLifespan"], realm["ssoSessionIdleTimeout"]) == (120, 7200)
    assert [(t["issuer"], t["jwksUrl"], t["audiences"]) for t in trusted] == [
        ("https://sso.example.com", "https://sso.example.com/jwks", ["api"])
    ]
    assert after == []
    assert gone.status_code == 404
    assert page.input_value("#realm-select") == "acme"


def test_live_activity_and_events_show_what_happens(
    context: BrowserContext, console: Console, tmp_path: Path
) -> None:
    """Tokens issued and failed logins made while the live activity page is open show as rates
    above zero within a few 2 s polls; the events page then lists the failed login and the
    client's creation, and the clients page the client's grants and when it last got a token."""
    made = tokensmith(
        console.workdir, "client", "create", "acme", "meter", "--grant", "id_auth", "--json"
    )
    assert made.returncode == 0, made.stderr
    secret = json.loads(made.stdout)["client_secret"]
    page, _ = open_console(context, console)
    sign_in(page, "ops", console.ops_secret)
    go(page, "activity")

    issued = [console.curl_token("meter", secret)[0] for _ in range(10)]
    failed = [console.curl_token("meter", "not-its-secret")[0] for _ in range(3)]
    page.wait_for_function(
        "() => Number(document.querySelector('#issued-rate').textContent) > 0"
        " && Number(document.querySelector('#failure-rate').textContent) > 0",
        timeout=10_000,
    )
    page.screenshot(path=tmp_path / "activity.png", full_page=True)
    chart = page.get_attribute("#live-chart", "aria-label") or ""
    go(page, "events")
    for _ in range(20):
        if page.locator("tr:has-text('CLIENT_LOGIN_ERROR'):has-text('meter')").count() == 3:
            break
        page.wait_for_timeout(250)
        page.click("text=Refresh")
        page.wait_for_selector("#page:not([aria-busy]) #page-title")
    page.screenshot(path=tmp_path / "events.png", full_page=True)
    login_errors = page.locator("tr:has-text('CLIENT_LOGIN_ERROR'):has-text('meter')").count()
    creations = page.locator("tr:has-text('CREATE'):has-text('clients/')").count()
    go(page, "clients")
    last_used = page.inner_text("[data-client=meter] >> xpath=ancestor::tr/td[6]")
    grants = page.locator(
        "[data-client=meter] >> xpath=ancestor::tr/td[2]/span[@class='tag']"
    ).all_inner_texts()

    assert issued == [200] * 10
    assert failed == [401] * 3
    assert "tokens issued:" in chart
    assert login_errors == 3
    assert creations >= 1
    assert last_used.endswith(" s ago")
    assert grants == ["client_credentials", "id_auth"]


def admin_token_lifetime(console: Console) -> int:
    answer = httpx.post(
        f"{console.service.url}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=("ops", console.ops_secret),
    )
    lifetime: int = answer.json()["expires_in"]
    return lifetime


def admin_headers(console: Console) -> dict[str, str]:
    answer = httpx.post(
        f"{console.service.url}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=("ops", console.ops_secret),
    )
    return {"authorization": f"Bearer {answer.json()['access_token']}"}


def test_a_federated_client_shows_how_it_authenticates_and_no_secret_to_rotate(
    context: BrowserContext, console: Console
) -> None:
    """A client that authenticates with a platform's token only (Keycloak's federated-jwt) is
    listed as such, without the Rotate secret button of a client that has a secret."""
    made = httpx.post(
        f"{console.service.url}/admin/realms/acme/clients",
        headers=admin_headers(console),
        json={"clientId": "deployer", "clientAuthenticatorType": "federated-jwt"},
    )
    with_secret = httpx.post(
        f"{console.service.url}/admin/realms/acme/clients",
        headers=admin_headers(console),
        json={"clientId": "reporter"},
    )
    page, _ = open_console(context, console)
    sign_in(page, "ops", console.ops_secret)
    go(page, "clients")
    row = page.locator("tr", has=page.locator("[data-client=deployer]"))

    assert made.status_code == with_secret.status_code == 201, made.text + with_secret.text
    assert "platform token (federated)" in row.inner_text()
    assert row.locator("text=Rotate secret").count() == 0
    assert page.locator("[aria-label='Rotate secret of reporter']").count() == 1


def test_a_read_only_admin_sees_but_cannot_change(
    context: BrowserContext, console: Console, tmp_path: Path
) -> None:
    """An admin.read client lists the clients; a change is refused with a message that names the
    missing scope; a wrong secret is refused at sign-in with a clear message."""
    page, _ = open_console(context, console)
    page.fill("#signin-id", "auditor")
    page.fill("#signin-secret", "wrong")
    page.keyboard.press("Enter")
    page.wait_for_selector("#signin-error:not([hidden])")
    message = page.inner_text("#signin-error")

    sign_in(page, "auditor", console.auditor_secret)
    go(page, "keys")
    page.click("text=Rotate keys")
    page.wait_for_selector("#notice.error")
    page.screenshot(path=tmp_path / "read-only.png")

    assert message == "The client ID or secret is wrong, or the client is disabled."
    assert "read-only" in page.inner_text("#who")
    assert "admin scope" in page.inner_text("#notice")

    page.click("#signout")

    assert page.is_visible("#signin-form")
    assert page.locator("#page > *").count() == 0


def test_the_console_renews_its_token_before_it_expires(
    context: BrowserContext, console: Console
) -> None:
    """With master-realm tokens that live 6 s, the page asks for a new one before the first
    expires, and keeps working past the first token's lifetime."""
    headers = admin_headers(console)
    master = console.service.url + "/admin/realms/master"
    lifespan = httpx.get(master, headers=headers).json()["accessTokenLifespan"]
    assert httpx.put(master, headers=headers, json={"accessTokenLifespan": 6}).status_code == 204
    try:
        page, _ = open_console(context, console)
        asked: list[float] = []
        page.on(
            "request",
            lambda request: asked.append(time.monotonic()) if "/token" in request.url else None,
        )
        assert eventually(lambda: admin_token_lifetime(console) == 6)
        sign_in(page, "ops", console.ops_secret)
        page.wait_for_timeout(6500)
        go(page, "keys")
        title = page.inner_text("#page-title")
    finally:
        httpx.put(master, headers=headers, json={"accessTokenLifespan": lifespan})

    assert len(asked) == 2
    assert 4.5 < asked[1] - asked[0] < 6
    assert title == "Signing keys of acme"


def test_the_session_ends_when_the_admin_client_loses_access(
    context: BrowserContext, console: Console
) -> None:
    """When its admin client is disabled, the page's next call is refused, a new token too, and
    the page returns to the sign-in form saying why, with the token forgotten."""
    made = tokensmith(console.workdir, "admin", "create-client", "temp", "--json")
    assert made.returncode == 0, made.stderr
    page, _ = open_console(context, console)
    sign_in(page, "temp", json.loads(made.stdout)["client_secret"])

    assert tokensmith(console.workdir, "client", "disable", "master", "temp").returncode == 0
    for turn in range(40):  # the service notices within its poll interval
        if page.is_visible("#signin-form"):
            break
        page.evaluate("(name) => { location.hash = name; }", "#/keys" if turn % 2 else "#/realms")
        page.wait_for_timeout(150)
    page.wait_for_selector("#signin-error:not([hidden])")

    assert page.inner_text("#signin-error") == (
        "Your session ended: The client ID or secret is wrong, or the client is disabled."
    )
    assert page.is_hidden("#app-view")


def test_the_console_fits_a_narrow_screen(
    browser: Browser, console: Console, tmp_path: Path
) -> None:
    """At 390 px wide the navigation goes above the content and the page does not scroll
    sideways; axe-core finds nothing serious there either."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page, _ = open_console(context, console)
        sign_in(page, "ops", console.ops_secret)
        go(page, "clients")
        page.screenshot(path=tmp_path / "narrow.png", full_page=True)
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        violations = serious_violations(page)
    finally:
        context.close()

    assert not wide
    assert violations == []

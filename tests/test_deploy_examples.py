"""The deployment examples hold together: examples/systemd's unit passes `systemd-analyze verify`
and names only `serve` options, its environment file only variables the service reads, and the
service started as the unit starts it, behind nginx or Caddy configured as in examples/nginx and
examples/caddy (TLS included), issues tokens whose issuer is the public URL and counts failed
logins against the real client's address, whatever X-Forwarded-For the client sends.

The tools are Debian's `systemd` (systemd-analyze), `nginx` and `caddy`; without one its tests
are skipped, and under CI=true (.ci/run installs them) they fail.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tokensmith.server import Settings

from .cli_run import run_cli
from .serve_process import free_port

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
UNIT = EXAMPLES / "systemd" / "tokensmith.service"
ENV_FILE = EXAMPLES / "systemd" / "tokensmith.env"
NGINX_CONF = EXAMPLES / "nginx" / "tokensmith.conf"
CADDYFILE = EXAMPLES / "caddy" / "Caddyfile"
README = EXAMPLES.parent / "README.md"

INSTALLED = "/opt/tokensmith/bin/tokensmith"  # where the unit expects the command
PUBLIC_HOST = "auth.example.com"
PUBLIC_URL = f"https://{PUBLIC_HOST}"
REALM = "acme"
CLIENT = "billing"
ADDRESS_LIMIT = 3  # failed logins per minute from one address, in the test's realm

# The only form of env-file line whose meaning systemd's EnvironmentFile= and sh's `.` agree on.
ENV_LINE = re.compile(r'(TOKENSMITH_[A-Z_]+)=(?:"([^"$`\\]*)"|([^"\'$`\\\s;&|<>()]*))')
CLEAN_STOP_SIGNALS = {signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE}


def tool(name: str, package: str) -> str:
    """The path of ``name``; the test is skipped without it, and fails under CI, where .ci/run
    installs Debian's ``package``."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        message = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def unit_entries(text: str) -> list[tuple[str, str, str]]:
    """The (section, key, value) settings of a systemd unit, in order, continuation lines
    joined."""
    entries = []
    section = ""
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key.strip(), value.strip()))
    return entries


def unit_value(key: str) -> str:
    """The value of the unit's one ``key`` setting."""
    values = [value for _, name, value in unit_entries(UNIT.read_text()) if name == key]
    assert len(values) == 1, f"{key} is set {len(values)} times"
    return values[0]


def unit_command(key: str) -> list[str]:
    """The arguments of the unit's ``ExecStart``-like ``key``, after the program."""
    argv = shlex.split(unit_value(key))
    program = argv[0].lstrip("-@:+!")
    assert program == INSTALLED, f"{key} runs {program}"
    return argv[1:]


def sh_environment(env_file: Path) -> dict[str, str]:
    """The ``TOKENSMITH_*`` variables ``sh`` sets from ``env_file``, as the README's admin
    commands read it."""
    result = subprocess.run(
        ["sh", "-c", 'set -a; . "$1"; exec env -0', "sh", str(env_file)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        check=True,
        timeout=10,
    )
    pairs = (item.partition("=") for item in result.stdout.decode().split("\0") if item)
    return {name: value for name, _, value in pairs if name.startswith("TOKENSMITH_")}


def env_lines(*, commented: bool) -> list[str]:
    """The env file's ``TOKENSMITH_*`` lines: those it sets, or those it shows commented out."""
    lines = []
    for raw in ENV_FILE.read_text().splitlines():
        line = raw.strip()
        if commented and line.startswith("#TOKENSMITH_"):
            lines.append(line[1:])
        elif not commented and line and not line.startswith("#"):
            lines.append(line)
    return lines


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing to say about the unit, once its program exists."""
    analyze = tool("systemd-analyze", "systemd")
    program = tmp_path / "bin" / "tokensmith"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(program)))

    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )

    # verify exits 0 even for an unknown key or a bad value: every line it prints is a finding.
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_unit_hardening_keeps_exposure_low(tmp_path: Path) -> None:
    """`systemd-analyze security` rates the unit's sandbox at most 2.0 ("OK") out of 10."""
    analyze = tool("systemd-analyze", "systemd")
    unit = tmp_path / UNIT.name
    shutil.copy(UNIT, unit)

    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_unit_commands_name_only_options_the_commands_have(tmp_path: Path) -> None:
    """ExecStartPre is `db upgrade` and ExecStart `serve`, each with options its --help lists."""
    for key, command in (("ExecStartPre", ["db", "upgrade"]), ("ExecStart", ["serve"])):
        argv = unit_command(key)
        help_text = run_cli(*command, "--help", cwd=tmp_path, env={}).stdout

        assert argv[: len(command)] == command
        for option in (arg.partition("=")[0] for arg in argv if arg.startswith("-")):
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_text), (
                f"{key}: `{' '.join(command)} --help` lists no {option}"
            )


def test_unit_keeps_its_files_in_its_state_directory() -> None:
    """The database and master key file of the env file, and the working directory, are in the
    one directory ProtectSystem=strict leaves writable: the unit's StateDirectory."""
    state = "/var/lib/" + unit_value("StateDirectory")
    env = sh_environment(ENV_FILE)

    assert unit_value("ProtectSystem") == "strict"
    assert unit_value("WorkingDirectory") == state
    assert env["TOKENSMITH_DATABASE_URL"] == f"sqlite:///{state}/tokensmith.db"
    assert Path(env["TOKENSMITH_MASTER_KEY_FILE"]).parent == Path(state)


@pytest.mark.parametrize("commented", [False, True], ids=["set", "commented-out"])
def test_env_file_names_only_variables_the_service_reads(tmp_path: Path, commented: bool) -> None:
    """Each TOKENSMITH_* line of the env file, set or shown commented out, reads the same in
    systemd and sh, names a variable the service reads, and gives it a valid value."""
    lines = env_lines(commented=commented)
    written = tmp_path / "tokensmith.env"
    written.write_text("\n".join(lines) + "\n")

    read_by_sh = sh_environment(written)
    serve_help = run_cli("serve", "--help", cwd=tmp_path, env={}).stdout

    assert lines
    for line in lines:
        match = ENV_LINE.fullmatch(line)
        assert match, f"systemd and sh may read this line differently: {line}"
        name, value = match[1], match[2] if match[2] is not None else match[3]
        assert read_by_sh[name] == value
        settings = Settings.from_env({name: value})  # raises on a malformed value
        # to_env gives back every variable from_env reads; serve --help names those it reads.
        read = name in settings.to_env() or f"${name}" in serve_help
        assert read, f"the service does not read {name}"


def test_readme_shows_the_units_commands_and_the_admin_recipe() -> None:
    """The README's Deploying shows the commands the unit runs, and runs admin commands as the
    env file's comment says."""
    readme = README.read_text()
    deploying = readme[readme.index("### Deploying") :]
    recipe = next(line for line in ENV_FILE.read_text().splitlines() if "sudo -u" in line)

    for key in ("ExecStartPre", "ExecStart"):
        assert f"`tokensmith {' '.join(unit_command(key))}`" in deploying
    assert recipe.removeprefix("#").strip().removesuffix(" ...") in deploying


# --- The service as the unit runs it, behind the example proxies -------------------------------


@dataclass
class Service:
    """A `tokensmith serve` process started as the unit starts it."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path


@dataclass
class Deployment:
    """The service with the env file's settings, its state directory holding a realm and a
    client."""

    state: Path
    env: dict[str, str]
    secret: str
    service: Service


def service_env(state: Path) -> dict[str, str]:
    """This process's environment without TOKENSMITH_*, plus the env file's variables with the
    state directory moved to ``state``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    for name, value in sh_environment(ENV_FILE).items():
        env[name] = value.replace("/var/lib/" + unit_value("StateDirectory"), str(state))
    assert str(state) in env["TOKENSMITH_DATABASE_URL"]
    return env


def start_service(
    state: Path, env: dict[str, str], port: int, workers: int | None = None
) -> Service:
    """The unit's ExecStart, run in ``state`` on ``port`` (instead of the unit's), with
    ``workers`` instead of the unit's if given, in a process group of its own; returns once
    /health answers."""
    argv = unit_command("ExecStart")
    argv[argv.index("--port") + 1] = str(port)
    if workers is not None:
        argv[argv.index("--workers") + 1] = str(workers)
    log = state.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tokensmith", *argv],
            cwd=state,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise AssertionError(f"serve did not come up:\n{log.read_text()}") from None
            time.sleep(0.05)
    return Service(port, proc, log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End ``proc`` and its process group, however it is doing."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """ExecStartPre, then an operator's realm and client, then ExecStart, as under systemd."""
    state = tmp_path_factory.mktemp("deploy") / "state"
    state.mkdir(mode=0o700)
    env = service_env(state)
    upgrade = subprocess.run(
        [sys.executable, "-m", "tokensmith", *unit_command("ExecStartPre")],
        cwd=state,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    limit = f"{ADDRESS_LIMIT}/minute"
    realm = run_cli("realm", "create", REALM, "--address-auth-limit", limit, cwd=state, env=env)
    assert realm.returncode == 0, realm.stderr
    client = run_cli("client", "create", REALM, CLIENT, "--json", cwd=state, env=env)
    assert client.returncode == 0, client.stderr

    service = start_service(state, env, free_port())
    try:
        yield Deployment(state, env, json.loads(client.stdout)["client_secret"], service)
    finally:
        stop(service.proc)


@dataclass
class Certificate:
    """A self-signed certificate for the public host name, and its key."""

    cert: Path
    key: Path

    def client(self, source: str) -> httpx.Client:
        """An HTTPS client that trusts this certificate and connects from address ``source``."""
        context = ssl.create_default_context(cafile=str(self.cert))
        transport = httpx.HTTPTransport(verify=context, local_address=source)
        return httpx.Client(transport=transport, timeout=10)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for auth.example.com, as the proxy's TLS would hold."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, PUBLIC_HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(PUBLIC_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(folder / "fullchain.pem", folder / "privkey.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Proxy:
    """A proxy running an example's configuration, listening with TLS on 127.0.0.1:port."""

    name: str
    port: int
    certificate: Certificate

    def post(self, source: str, path: str, headers: dict[str, str], **form: str) -> httpx.Response:
        """POST ``form`` to ``path`` through the proxy from address ``source``."""
        with self.certificate.client(source) as client:
            return client.post(
                f"https://127.0.0.1:{self.port}{path}",
                data=form,
                headers={"Host": PUBLIC_HOST, **headers},
                extensions={"sni_hostname": PUBLIC_HOST},
            )

    def get(self, source: str, path: str) -> httpx.Response:
        """GET ``path`` through the proxy from address ``source``."""
        with self.certificate.client(source) as client:
            return client.get(
                f"https://127.0.0.1:{self.port}{path}",
                headers={"Host": PUBLIC_HOST},
                extensions={"sni_hostname": PUBLIC_HOST},
            )


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.RemoteProtocolError:  # a TLS listener answering plain HTTP: it is up
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                output = log.read_text(errors="replace") if log.exists() else ""
                raise AssertionError(f"the proxy did not come up:\n{output}") from None
            time.sleep(0.05)


def example_upstream(text: str, pattern: str) -> str:
    """The one ``127.0.0.1:8080``-like upstream address ``pattern`` finds in ``text``."""
    found = re.findall(pattern, text)
    assert len(found) == 1, found
    return str(found[0])


def upstream_matches_unit(upstream: str) -> None:
    """The proxy's upstream is where ExecStart listens."""
    argv = unit_command("ExecStart")
    assert upstream == f"{argv[argv.index('--host') + 1]}:{argv[argv.index('--port') + 1]}"


@pytest.fixture(scope="module")
def nginx(
    deployment: Deployment, certificate: Certificate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """nginx with examples/nginx/tokensmith.conf, moved to a free port on 127.0.0.1, with the
    test's certificate and private log and temporary files, run as this user."""
    binary = tool("nginx", "nginx")
    folder = tmp_path_factory.mktemp("nginx")
    text = NGINX_CONF.read_text()
    upstream = example_upstream(text, r"server (\S+);")
    upstream_matches_unit(upstream)
    port = free_port()
    site = (
        text.replace(f"server {upstream};", f"server 127.0.0.1:{deployment.service.port};")
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
        .replace("listen [::]:443 ssl;", "")
        .replace(f"/etc/letsencrypt/live/{PUBLIC_HOST}/fullchain.pem", str(certificate.cert))
        .replace(f"/etc/letsencrypt/live/{PUBLIC_HOST}/privkey.pem", str(certificate.key))
        .replace("/var/log/nginx/", f"{folder}/")
    )
    directives = "\n".join(line for line in site.splitlines() if not line.strip().startswith("#"))
    for production in ("443", "/etc/", "/var/"):  # each one replaced
        assert production not in directives, directives
    (folder / "tokensmith.conf").write_text(site)
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root root;" if os.geteuid() == 0 else ""  # workers as this user, not nobody
    (folder / "nginx.conf").write_text(
        f"""{user}
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {folder}/access.log;
{temp}
    include {folder}/tokensmith.conf;
}}
"""
    )
    log = folder / "error.log"
    proc = subprocess.Popen(
        [binary, "-p", str(folder), "-c", "nginx.conf", "-e", str(log), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_listening(port, proc, log)
        yield Proxy("nginx", port, certificate)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGQUIT)  # nginx's graceful stop
        try:
            proc.wait(10)
        finally:
            stop(proc)


@pytest.fixture(scope="module")
def caddy(
    deployment: Deployment, certificate: Certificate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proxy]:
    """Caddy with examples/caddy/Caddyfile, its HTTPS port moved to a free one on 127.0.0.1,
    the test's certificate instead of ACME, no admin endpoint, its files in a private folder."""
    binary = tool("caddy", "caddy")
    folder = tmp_path_factory.mktemp("caddy")
    text = CADDYFILE.read_text()
    upstream = example_upstream(text, r"reverse_proxy (\S+)")
    upstream_matches_unit(upstream)
    port = free_port()
    site = (
        text.replace(
            "\tauto_https disable_redirects\n",
            "\tauto_https disable_redirects\n"
            f"\tadmin off\n\thttp_port {free_port()}\n\thttps_port {port}\n"
            "\tdefault_bind 127.0.0.1\n\tskip_install_trust\n",
        )
        .replace(f"reverse_proxy {upstream}", f"reverse_proxy 127.0.0.1:{deployment.service.port}")
        .replace(
            f"{PUBLIC_HOST} {{\n", f"{PUBLIC_HOST} {{\n\ttls {certificate.cert} {certificate.key}\n"
        )
    )
    assert f"https_port {port}" in site, site
    assert f"\ttls {certificate.cert}" in site, site
    (folder / "Caddyfile").write_text(site)
    log = folder / "caddy.log"
    home = {"HOME": str(folder), "XDG_DATA_HOME": str(folder), "XDG_CONFIG_HOME": str(folder)}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [binary, "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **home},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_listening(port, proc, log)
        yield Proxy("caddy", port, certificate)
    finally:
        stop(proc)


@pytest.fixture(params=["nginx", "caddy"])
def proxy(request: pytest.FixtureRequest) -> Proxy:
    """Each example proxy in front of the deployed service."""
    found: Proxy = request.getfixturevalue(request.param)
    return found


def basic(client_id: str, secret: str) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def claims(token: str) -> dict[str, object]:
    """The payload of a JWT (its signature is the JWKS tests' business)."""
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


TOKEN_PATH = f"/realms/{REALM}/protocol/openid-connect/token"


def test_token_through_proxy_names_the_public_url_as_issuer(
    deployment: Deployment, proxy: Proxy
) -> None:
    """Through the proxy's TLS a client gets a token whose issuer is the public URL, and the
    realm's discovery names it too, whatever X-Forwarded-Host or -Proto the client sends."""
    spoofed = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}

    token = proxy.post(
        "127.0.0.1",
        TOKEN_PATH,
        {**basic(CLIENT, deployment.secret), **spoofed},
        grant_type="client_credentials",
    )
    discovery = proxy.get("127.0.0.1", f"/realms/{REALM}/.well-known/openid-configuration")

    assert token.status_code == 200, token.text
    assert claims(token.json()["access_token"])["iss"] == f"{PUBLIC_URL}/realms/{REALM}"
    assert discovery.json()["issuer"] == f"{PUBLIC_URL}/realms/{REALM}"
    assert discovery.json()["token_endpoint"] == PUBLIC_URL + TOKEN_PATH


@pytest.mark.parametrize(
    ("proxy", "client_address", "bystander"),
    [("nginx", "127.0.0.11", "127.0.0.12"), ("caddy", "127.0.0.21", "127.0.0.22")],
    indirect=["proxy"],
)
def test_rate_limits_count_the_client_behind_the_proxy(
    deployment: Deployment, proxy: Proxy, client_address: str, bystander: str
) -> None:
    """Failed logins through the proxy count against the client's own address, however it
    varies X-Forwarded-For: past the realm's limit it is refused, while another client behind
    the same proxy is not."""
    wrong = basic(CLIENT, "not-the-secret")
    right = basic(CLIENT, deployment.secret)

    failures = [
        proxy.post(
            client_address,
            TOKEN_PATH,
            {**wrong, "X-Forwarded-For": f"203.0.113.{n}"},
            grant_type="client_credentials",
        ).status_code
        for n in range(ADDRESS_LIMIT)
    ]
    refused = proxy.post(
        client_address,
        TOKEN_PATH,
        {**right, "X-Forwarded-For": "198.51.100.7"},
        grant_type="client_credentials",
    )
    other = proxy.post(bystander, TOKEN_PATH, right, grant_type="client_credentials")

    assert failures == [401] * ADDRESS_LIMIT
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "slow_down"
    assert other.status_code == 200, other.text


@pytest.mark.parametrize("workers", [None, 2], ids=["as-written", "workers-2"])
def test_service_stops_cleanly_on_the_units_kill_signal(
    deployment: Deployment, workers: int | None
) -> None:
    """KillMode=mixed sends KillSignal to the main process only: the service, with one worker
    or a supervisor of two, shuts down gracefully within TimeoutStopSec, in a way systemd counts
    as a clean stop, leaving no process behind."""
    assert unit_value("KillMode") == "mixed"
    kill_signal = signal.Signals[unit_value("KillSignal")]
    timeout = float(unit_value("TimeoutStopSec").removesuffix("s"))
    service = start_service(deployment.state, deployment.env, free_port(), workers)
    try:
        group = service.proc.pid  # its own process group

        service.proc.send_signal(kill_signal)
        status = service.proc.wait(timeout)
        deadline = time.monotonic() + 5
        while group_members(group):
            assert time.monotonic() < deadline, f"left behind: {group_members(group)}"
            time.sleep(0.05)
    finally:
        stop(service.proc)

    assert status == 0 or -status in CLEAN_STOP_SIGNALS, status
    assert "Application shutdown complete" in service.log.read_text()


def group_members(group: int) -> list[int]:
    """The processes of process group ``group``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members

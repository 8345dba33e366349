"""Admin events, security events, clients' last use and token counts, over real HTTP against
`tokensmith serve` (on SQLite and PostgreSQL where the store is involved): every change made over
the admin API or by the CLI leaves one admin event naming who made it and no secret; refused
client authentications and refresh-token reuse show up as events, a flood of them as a bounded
number of rows; old rows are pruned; a client's last use shows without a write per token; the
token counts add up over the workers."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from tokensmith.server import Settings
from tokensmith.server._keys import new_master_key_value
from tokensmith.server._recorder import MAX_ROWS
from tokensmith.store import Database
from tokensmith.store._tables import admin_events, clients, events, realms

from .cli_run import CliRun, run_cli
from .conftest import eventually
from .serve_process import Serving, serving

DAY_MS = 86_400_000


def cli(settings: Settings, workdir: Path, *args: str) -> CliRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSMITH_")}
    env.update(settings.to_env())
    return run_cli(*args, cwd=workdir, env=env)


def dump(settings: Settings) -> str:
    """Every row of both event tables, as text."""

    async def go() -> str:
        db = Database(settings.database_url)
        try:
            async with db.read() as conn:
                rows = [*(await conn.execute(select(admin_events))).all()]
                rows += (await conn.execute(select(events))).all()
        finally:
            await db.close()
        return "\n".join(repr(tuple(row)) for row in rows)

    return asyncio.run(go())


def count_events(settings: Settings) -> int:
    return dump(settings).count("CLIENT_LOGIN_ERROR")


@dataclass
class Admin:
    service: Serving
    settings: Settings
    secret: str
    workdir: Path

    def token(self) -> str:
        answer = httpx.post(
            f"{self.service.url}/realms/master/protocol/openid-connect/token",
            data={"grant_type": "client_credentials"},
            auth=("ops", self.secret),
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.token()}"}
        return httpx.request(method, self.service.url + path, headers=headers, **kwargs)

    def get(self, path: str) -> Any:
        answer = self.call("GET", path)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def cli(self, *args: str) -> CliRun:
        return cli(self.settings, self.workdir, *args)

    def client_token(self, client_id: str, secret: str, **data: str) -> httpx.Response:
        return httpx.post(
            f"{self.service.url}/realms/acme/protocol/openid-connect/token",
            data={"grant_type": "client_credentials", **data},
            auth=(client_id, secret),
        )


@contextmanager
def start(settings: Settings, workdir: Path, *args: str) -> Iterator[Admin]:
    """A served database with realm acme (no grace for a refresh token presented again) and
    the admin client ops."""
    assert cli(settings, workdir, "db", "upgrade").returncode == 0
    made = cli(settings, workdir, "realm", "create", "acme", "--refresh-reuse-grace", "0")
    assert made.returncode == 0, made.stderr
    ops = cli(settings, workdir, "admin", "create-client", "ops", "--json")
    assert ops.returncode == 0, ops.stderr
    with serving(workdir, settings, *args) as service:
        yield Admin(service, settings, json.loads(ops.stdout)["client_secret"], workdir)


def event_settings(database_url: str, **kwargs: Any) -> Settings:
    return Settings(
        database_url=database_url,
        master_key=new_master_key_value(),
        poll_interval=0.1,
        client_auth_limit="100000/minute",
        address_auth_limit="100000/minute",
        **kwargs,
    )


@pytest.fixture
def admin(migrated_database_url: str, tmp_path: Path) -> Iterator[Admin]:
    """The service on each kind of database, clients' last use written every 0.2 s."""
    with start(event_settings(migrated_database_url, last_used_interval=0.2), tmp_path) as admin:
        yield admin


@pytest.fixture
def sqlite_admin(migrated_sqlite_url: str, tmp_path: Path) -> Iterator[Admin]:
    """The service on SQLite."""
    with start(event_settings(migrated_sqlite_url), tmp_path) as admin:
        yield admin


def test_each_change_over_the_api_leaves_one_admin_event_naming_the_admin_client(
    admin: Admin,
) -> None:
    """Creating, disabling, rotating the secret of and deleting a client, and rotating keys
    over the admin API leave one admin event each, newest first, naming the admin client and
    its address; no secret is anywhere in the event tables."""
    made = admin.call("POST", "/admin/realms/acme/clients", json={"clientId": "billing"})
    assert made.status_code == 201, made.text
    pk, generated = made.json()["id"], made.json()["secret"]
    assert admin.call("PUT", f"/admin/realms/acme/clients/{pk}", json={"enabled": False})
    rotated = admin.call("POST", f"/admin/realms/acme/clients/{pk}/client-secret").json()
    assert admin.call("POST", "/admin/realms/acme/keys/rotate").status_code == 200
    assert admin.call("DELETE", f"/admin/realms/acme/clients/{pk}").status_code == 204

    found = admin.get("/admin/realms/acme/admin-events")

    assert [(e["operationType"], e["resourceType"], e["resourcePath"]) for e in found[:5]] == [
        ("DELETE", "CLIENT", f"clients/{pk}"),
        ("ACTION", "KEYS", "keys"),
        ("ACTION", "CLIENT_SECRET", f"clients/{pk}/client-secret"),
        ("UPDATE", "CLIENT", f"clients/{pk}"),
        ("CREATE", "CLIENT", f"clients/{pk}"),
    ]
    assert all(
        e["authDetails"] == {"realmId": "master", "clientId": "ops", "ipAddress": "127.0.0.1"}
        and e["via"] == "admin-api"
        and e["realmId"] == "acme"
        for e in found[:5]
    )
    assert found[3]["details"] == {"clientId": "billing", "enabled": False}
    assert found[0]["time"] >= found[4]["time"] > (time.time() - 60) * 1000
    assert [e["operationType"] for e in found[5:]] == ["CREATE"]  # the realm, by the CLI
    table = dump(admin.settings)
    for secret in (generated, rotated["value"], admin.secret):
        assert secret not in table


def test_a_deleted_realms_admin_events_stay_readable(admin: Admin) -> None:
    """After a realm is deleted over the API, its admin events, the deletion first, are still
    answered; a realm that never was is 404."""
    assert admin.call("POST", "/admin/realms", json={"realm": "gone"}).status_code == 201
    assert admin.call("DELETE", "/admin/realms/gone").status_code == 204

    found = admin.get("/admin/realms/gone/admin-events")
    never = admin.call("GET", "/admin/realms/never/admin-events")

    assert [(e["operationType"], e["resourceType"], e["via"]) for e in found] == [
        ("DELETE", "REALM", "admin-api"),
        ("CREATE", "REALM", "admin-api"),
    ]
    assert never.status_code == 404


def test_each_change_by_the_cli_leaves_one_admin_event_naming_the_system_user(
    admin: Admin,
) -> None:
    """Changes made by the CLI leave one admin event each naming the system user and no
    address, with a chosen secret nowhere in the table."""
    chosen = "a secret somebody chose 1234"
    assert admin.cli("client", "create", "acme", "app", "--secret", chosen).returncode == 0
    assert admin.cli("client", "disable", "acme", "app").returncode == 0
    rotated = admin.cli("client", "rotate-secret", "acme", "app", "--json")
    assert admin.cli("issuer", "add-demo", "acme").returncode == 0
    assert admin.cli("client", "delete", "acme", "app").returncode == 0

    found = admin.get("/admin/realms/acme/admin-events?max=5")

    assert [(e["operationType"], e["resourceType"]) for e in found] == [
        ("DELETE", "CLIENT"),
        ("CREATE", "TRUSTED_ISSUER"),
        ("ACTION", "CLIENT_SECRET"),
        ("UPDATE", "CLIENT"),
        ("CREATE", "CLIENT"),
    ]
    user = getpass.getuser()
    assert all(
        e["via"] == "cli"
        and e["authDetails"] == {"realmId": None, "clientId": user, "ipAddress": None}
        for e in found
    )
    table = dump(admin.settings)
    assert chosen not in table
    assert json.loads(rotated.stdout)["client_secret"] not in table


def test_failed_logins_and_refresh_reuse_show_up_as_events(admin: Admin) -> None:
    """A wrong secret for a client names the client; an unknown client id (which could be a
    secret pasted in the wrong field) is never written; a refresh token presented twice is a
    REFRESH_TOKEN_ERROR of error reuse."""
    made = json.loads(
        admin.cli("client", "create", "acme", "app", "--refresh-tokens", "--json").stdout
    )
    pasted = "pasted-secret-Xq3v9LmT0aZ8"
    assert admin.client_token("app", "wrong").status_code == 401
    assert admin.client_token(pasted, "whatever").status_code == 401
    refresh_token = admin.client_token("app", made["client_secret"]).json()["refresh_token"]
    for _ in range(2):
        admin.client_token(
            "app", made["client_secret"], grant_type="refresh_token", refresh_token=refresh_token
        )

    def found() -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = admin.get("/admin/realms/acme/events")
        return listed

    assert eventually(lambda: len(found()) == 3)
    reuse, unknown, wrong = found()
    assert (reuse["type"], reuse["error"], reuse["clientId"]) == (
        "REFRESH_TOKEN_ERROR",
        "reuse",
        "app",
    )
    assert (wrong["type"], wrong["error"], wrong["clientId"], wrong["ipAddress"]) == (
        "CLIENT_LOGIN_ERROR",
        "invalid_client",
        "app",
        "127.0.0.1",
    )
    assert wrong["details"] == {"method": "client_secret_basic", "reason": "bad_secret"}
    assert (unknown["clientId"], unknown["details"]["reason"]) == (None, "unknown_client")
    assert pasted not in dump(admin.settings)


async def _flood(url: str, count: int) -> None:
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        gate = asyncio.Semaphore(32)

        async def guess(i: int) -> None:
            async with gate:
                answer = await http.post(
                    url,
                    data={
                        "grant_type": "client_credentials",
                        "client_id": "app",
                        "client_secret": f"guess-{i}",
                    },
                )
                assert answer.status_code == 401

        await asyncio.gather(*(guess(i) for i in range(count)))


def test_a_failure_flood_writes_a_bounded_number_of_rows(sqlite_admin: Admin) -> None:
    """2,000 refused authentications write at most MAX_ROWS events per second of the flood
    (and the second after it); the rest are dropped and reported."""
    assert sqlite_admin.cli("client", "create", "acme", "app").returncode == 0
    url = f"{sqlite_admin.service.url}/realms/acme/protocol/openid-connect/token"

    started = time.monotonic()
    asyncio.run(_flood(url, 2000))
    seconds = time.monotonic() - started
    time.sleep(1.5)  # the last flush

    rows = count_events(sqlite_admin.settings)
    assert 0 < rows <= MAX_ROWS * (int(seconds) + 3) < 2000, (rows, seconds)
    assert "event=events_dropped" in sqlite_admin.service.output()


def test_rows_older_than_the_retention_are_pruned(
    migrated_database_url: str, tmp_path: Path
) -> None:
    """At start, a service deletes admin events and events older than --admin-events-days and
    keeps the younger ones."""
    settings = event_settings(migrated_database_url)
    now = int(time.time() * 1000)

    async def seed() -> None:
        db = Database(settings.database_url)
        try:
            async with db.write() as conn:
                for age, name in ((11, "old"), (9, "young")):
                    common = {"time": now - age * DAY_MS, "realm": name, "details": "{}"}
                    await conn.execute(
                        insert(admin_events).values(
                            operation="CREATE",
                            resource_type="REALM",
                            resource_path="",
                            via="cli",
                            **common,
                        )
                    )
                    await conn.execute(insert(events).values(type="CLIENT_LOGIN_ERROR", **common))
        finally:
            await db.close()

    asyncio.run(seed())

    with serving(tmp_path, settings, "--admin-events-days", "10"):
        pruned = eventually(lambda: "'old'" not in dump(settings))
        left = dump(settings)

    assert pruned
    assert left.count("'young'") == 2


def test_last_used_shows_after_a_token_without_changing_the_realm(admin: Admin) -> None:
    """A client's lastUsed is null until it gets a token, then the time of that token (written
    within the last-use interval); the realm's version, which services poll, stays."""
    made = json.loads(admin.cli("client", "create", "acme", "app", "--json").stdout)
    version = _realm_version(admin.settings)
    listed = admin.get("/admin/realms/acme/clients?clientId=app")[0]
    before = time.time() * 1000

    assert admin.client_token("app", made["client_secret"]).status_code == 200

    def last_used() -> Any:
        return admin.get(f"/admin/realms/acme/clients/{listed['id']}")["lastUsed"]

    assert listed["lastUsed"] is None
    assert eventually(lambda: last_used() is not None)
    assert before - 1000 <= last_used() <= time.time() * 1000
    assert _realm_version(admin.settings) == version


def test_last_use_is_written_when_the_service_stops(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    """With the default minute between writes, a token's last use is written when the service
    stops rather than lost."""
    settings = event_settings(migrated_sqlite_url)
    with start(settings, tmp_path) as admin:
        made = json.loads(admin.cli("client", "create", "acme", "app", "--json").stdout)
        assert admin.client_token("app", made["client_secret"]).status_code == 200
        before = _last_used_at(settings)

    assert before is None
    assert _last_used_at(settings) is not None


def test_a_client_read_before_its_last_use_can_be_put_back(admin: Admin) -> None:
    """PUT of a representation read before the client got a token (its lastUsed now stale) is
    accepted: lastUsed is the service's to write, not a setting."""
    made = json.loads(admin.cli("client", "create", "acme", "app", "--json").stdout)
    read = admin.get("/admin/realms/acme/clients?clientId=app")[0]
    assert admin.client_token("app", made["client_secret"]).status_code == 200
    assert eventually(
        lambda: admin.get(f"/admin/realms/acme/clients/{read['id']}")["lastUsed"] is not None
    )

    put = admin.call("PUT", f"/admin/realms/acme/clients/{read['id']}", json=read)

    assert put.status_code == 204, put.text


def _last_used_at(settings: Settings) -> int | None:
    async def go() -> int | None:
        db = Database(settings.database_url)
        try:
            async with db.read() as conn:
                found = await conn.scalar(
                    select(clients.c.last_used_at).where(clients.c.client_id == "app")
                )
        finally:
            await db.close()
        return None if found is None else int(found)

    return asyncio.run(go())


def _realm_version(settings: Settings) -> int:
    async def go() -> int:
        db = Database(settings.database_url)
        try:
            async with db.read() as conn:
                found = await conn.scalar(select(realms.c.version).where(realms.c.name == "acme"))
        finally:
            await db.close()
        assert isinstance(found, int)
        return found

    return asyncio.run(go())


def test_metrics_count_tokens_and_failures_over_the_workers(
    migrated_sqlite_url: str, tmp_path: Path
) -> None:
    """With two workers, the realm's metrics add up every worker's tokens and failures."""
    settings = event_settings(migrated_sqlite_url)
    with start(settings, tmp_path, "--workers", "2") as admin:
        admin.service.worker_pids(2)
        made = json.loads(admin.cli("client", "create", "acme", "app", "--json").stdout)
        for _ in range(12):  # each on a new connection: both workers answer some
            assert admin.client_token("app", made["client_secret"]).status_code == 200
        for _ in range(5):
            assert admin.client_token("app", "wrong").status_code == 401

        def counts() -> tuple[int, int]:
            found = admin.get("/admin/realms/acme/metrics")
            return found["tokensIssued"], found["authenticationFailures"]

        assert eventually(lambda: counts() == (12, 5)), counts()
        assert abs(admin.get("/admin/realms/acme/metrics")["time"] - time.time() * 1000) < 5000


def test_metrics_are_404_when_the_service_counts_nothing(sqlite_admin: Admin) -> None:
    """Without metrics the realm's metrics answer 404 saying why."""
    with serving(sqlite_admin.workdir, sqlite_admin.settings, "--no-metrics") as service:
        answer = httpx.get(
            f"{service.url}/admin/realms/acme/metrics",
            headers={"authorization": f"Bearer {sqlite_admin.token()}"},
        )

    assert answer.status_code == 404
    assert "--no-metrics" in answer.json()["errorMessage"]


@pytest.mark.parametrize(
    "query", ["first=-1", "max=ten", "first=1&first=2", "max=1e3", "first=9999999999"]
)
def test_bad_first_or_max_is_a_400(sqlite_admin: Admin, query: str) -> None:
    """first and max must be whole numbers given once."""
    for view in ("admin-events", "events"):
        answer = sqlite_admin.call("GET", f"/admin/realms/acme/{view}?{query}")

        assert answer.status_code == 400
        assert answer.json()["error"] == "invalid_request"
        assert answer.json()["errorMessage"]


def test_pages_are_read_with_first_and_max(sqlite_admin: Admin) -> None:
    """first skips the newest events, max bounds how many come (a max above 1000 reads as
    1000), and an unknown realm is 404."""
    for i in range(3):
        assert sqlite_admin.cli("client", "create", "acme", f"app-{i}").returncode == 0

    page = sqlite_admin.get("/admin/realms/acme/admin-events?first=1&max=2")
    everything = sqlite_admin.get("/admin/realms/acme/admin-events?max=100000")
    missing = sqlite_admin.call("GET", "/admin/realms/nowhere/admin-events")

    assert [e["details"]["clientId"] for e in page] == ["app-1", "app-0"]
    assert len(everything) == 4  # the realm's creation too
    assert missing.status_code == 404


def test_a_read_only_admin_reads_the_events(sqlite_admin: Admin) -> None:
    """The admin.read scope is enough to read admin events, events and metrics."""
    made = sqlite_admin.cli("admin", "create-client", "auditor", "--read-only", "--json")
    secret = json.loads(made.stdout)["client_secret"]
    token = httpx.post(
        f"{sqlite_admin.service.url}/realms/master/protocol/openid-connect/token",
        data={"grant_type": "client_credentials"},
        auth=("auditor", secret),
    ).json()["access_token"]

    answers = [
        httpx.get(
            f"{sqlite_admin.service.url}/admin/realms/acme/{view}",
            headers={"authorization": f"Bearer {token}"},
        ).status_code
        for view in ("admin-events", "events", "metrics")
    ]

    assert answers == [200, 200, 200]


def test_settings_refuse_a_retention_below_a_day() -> None:
    """TOKENSMITH_ADMIN_EVENTS_DAYS must be a whole number of at least 1."""
    from tokensmith.oauth import ConfigurationError

    with pytest.raises(ConfigurationError, match="TOKENSMITH_ADMIN_EVENTS_DAYS"):
        Settings.from_env({"TOKENSMITH_ADMIN_EVENTS_DAYS": "0"})
    assert replace(Settings(), admin_events_days=7).to_env()["TOKENSMITH_ADMIN_EVENTS_DAYS"] == "7"

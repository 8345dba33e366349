"""Many-realm benchmark: what 10,000 realms of 5 clients each cost `tokensmith serve`.

Populates an empty database with N ES256 realms of C clients each (a current and a next signing
key per realm, generated secrets), then starts `serve --workers W` on it and, as the baseline,
on a database holding one such realm, and prints for both:

- population time: one template realm is made through the Admin API; the others are its rows
  copied in batches, each realm with signing keys and client secrets of its own (made by the
  product's key and secret functions), so the service sees exactly what the Admin API makes
  (the Admin API itself, one transaction per client, takes about 18 ms per realm of 5 clients:
  three minutes for 10,000 realms);
- startup time: from launching `serve` to the first 200 on /health, and to the first token of
  the last realm;
- memory: RSS of the whole process tree at startup (realms stored only) and after tokens were
  asked for from M distinct realms over several keep-alive connections (realms loaded in every
  worker), as added memory per stored and per loaded realm;
- client_credentials tokens/s (wrk) of the last realm beside the one-realm service, in
  alternating rounds, and the median of the per-round ratios; beside it the CPU time the
  service used per token, which other load on a shared machine disturbs much less.

    python bench/realms.py [--realms 10000] [--clients 5] [--loaded 1000] [--workers 2]
                           [--seconds 5] [--rounds 5] [--connections 64]
                           [--database-url URL] [--baseline-url URL] [--realm-cache-size K]

Both URLs must name empty databases (PostgreSQL: created beforehand); the default is a new SQLite
file for each. Needs wrk. The default run takes about 1.5 minutes on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from _common import free_port
from sqlalchemy import insert, select
from token_load import wrk

from tokensmith.server import Admin, Settings, open_master_key
from tokensmith.server._keys import new_key
from tokensmith.server._secrets import SHA256_PREFIX, digest_generated, generate_secret
from tokensmith.server._state import DEFAULT_MAX_REALMS
from tokensmith.store import Database
from tokensmith.store._tables import client_secrets, clients, realms, signing_keys

BATCH = 500  # realms per write transaction while populating
FORM = "application/x-www-form-urlencoded"


def realm_name(i: int) -> str:
    """The name of realm ``i``: all of one length, so every request and token has one size."""
    return f"realm-{i:06d}"


def client_name(j: int) -> str:
    return f"client-{j}"


@dataclasses.dataclass
class Population:
    """A populated database: its settings, every client's secret and where the time went."""

    settings: Settings
    secrets: dict[tuple[str, str], str]
    template_s: float = 0.0
    keys_s: float = 0.0
    rows_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.template_s + self.keys_s + self.rows_s


async def populate(settings: Settings, n: int, per_realm: int) -> Population:
    """Fill the empty database of ``settings`` with ``n`` realms of ``per_realm`` clients."""
    db = Database(settings.database_url, timeout=30)
    pop = Population(settings, {})
    try:
        started = time.perf_counter()
        await db.migrate()
        master = await open_master_key(db, settings.master_key, settings.key_file())
        admin = Admin(db, master)
        template = await admin.create_realm(realm_name(0), alg="ES256")
        for j in range(per_realm):
            new = await admin.create_client(template.name, client_name(j), scopes="api")
            assert new.secret is not None
            pop.secrets[template.name, client_name(j)] = new.secret
        async with db.read() as conn:
            realm_row = _row(await conn.execute(select(realms).where(realms.c.id == template.id)))
            key_rows = _rows(
                await conn.execute(
                    select(signing_keys).where(signing_keys.c.realm_id == template.id)
                )
            )
            client_rows = _rows(
                await conn.execute(select(clients).where(clients.c.realm_id == template.id))
            )
            secret_rows = _rows(
                await conn.execute(
                    select(client_secrets).where(
                        client_secrets.c.client_pk.in_([c["id"] for c in client_rows])
                    )
                )
            )
        assert all(s["digest"].startswith(SHA256_PREFIX) for s in secret_rows)
        client_of = {c["id"]: c["client_id"] for c in client_rows}
        pop.template_s = time.perf_counter() - started

        for first in range(1, n, BATCH):
            names = [realm_name(i) for i in range(first, min(first + BATCH, n))]
            async with db.write() as conn:
                started = time.perf_counter()
                await conn.execute(
                    insert(realms),
                    [_without(realm_row, name=nm, name_folded=nm.lower()) for nm in names],
                )
                ids = dict(
                    (
                        await conn.execute(
                            select(realms.c.name, realms.c.id).where(realms.c.name.in_(names))
                        )
                    ).all()
                )
                pop.rows_s += time.perf_counter() - started

                started = time.perf_counter()
                keys = [
                    dataclasses.asdict(
                        dataclasses.replace(
                            new_key(
                                master,
                                realm_id=ids[nm],
                                alg=tpl["alg"],
                                state=tpl["state"],
                                now=tpl["created_at"],
                            ),
                            stopped_at=tpl["stopped_at"],
                        )
                    )
                    for nm in names
                    for tpl in key_rows
                ]
                pop.keys_s += time.perf_counter() - started

                started = time.perf_counter()
                await conn.execute(insert(signing_keys), keys)
                await conn.execute(
                    insert(clients),
                    [_without(c, realm_id=ids[nm]) for nm in names for c in client_rows],
                )
                made = (
                    await conn.execute(
                        select(clients.c.id, clients.c.realm_id, clients.c.client_id).where(
                            clients.c.realm_id.in_(list(ids.values()))
                        )
                    )
                ).all()
                pk = {(realm_id, client_id): pk for pk, realm_id, client_id in made}
                rows = []
                for nm in names:
                    for s in secret_rows:
                        cid = client_of[s["client_pk"]]
                        secret = generate_secret()
                        pop.secrets[nm, cid] = secret
                        rows.append(
                            _without(s, client_pk=pk[ids[nm], cid], digest=digest_generated(secret))
                        )
                await conn.execute(insert(client_secrets), rows)
                pop.rows_s += time.perf_counter() - started
        return pop
    finally:
        await db.close()


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


def _row(result: Any) -> dict[str, Any]:
    rows = _rows(result)
    assert len(rows) == 1
    return rows[0]


def _without(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a template row for another realm: its own primary key, ``changes`` applied."""
    copy = {k: v for k, v in row.items() if k != "id"}
    copy.update(changes)
    return copy


# --- the process tree -------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time the processes have used."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def is_worker(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read()
    except OSError:
        return False
    # serve's own supervisor starts `python -m tokensmith.server._worker`; uvicorn's (where
    # serve falls back to it) spawns multiprocessing children beside a resource tracker.
    if b"tokensmith.server._worker" in cmd:
        return True
    return b"spawn_main" in cmd and b"resource_tracker" not in cmd


@dataclasses.dataclass
class Memory:
    """RSS in KiB: the whole tree, and each worker by pid."""

    tree: int
    workers: dict[int, int]


def memory(pid: int) -> Memory:
    pids = descendants(pid)
    return Memory(
        tree=sum(rss_kib(p) for p in pids),
        workers={p: rss_kib(p) for p in pids if p != pid and is_worker(p)},
    )


# --- one service ------------------------------------------------------------------------------


class Service:
    """`tokensmith serve --workers W` on a populated database, in a process group of its own."""

    def __init__(self, label: str, pop: Population, workers: int, tmp: Path) -> None:
        self.label = label
        self.pop = pop
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **pop.settings.to_env()}
        cwd = tmp / label
        cwd.mkdir()
        argv = [sys.executable, "-m", "tokensmith", "serve", "--workers", str(workers)]
        argv += ["--port", str(self.port)]
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.health_s = self.first_token_s = 0.0
        self.at_startup = self.after_load = Memory(0, {})
        self.rounds: list[dict[str, float]] = []

    def token_url(self, realm: str) -> str:
        return f"{self.base}/realms/{realm}/protocol/openid-connect/token"

    def body(self, realm: str, client: str = client_name(0)) -> str:
        secret = self.pop.secrets[realm, client]
        return f"grant_type=client_credentials&client_id={client}&client_secret={secret}"

    def wait_started(self, realm: str) -> None:
        """Time the first 200 on /health and then the first token of ``realm``."""
        deadline = self.started + 120
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.label}: serve exited with {self.proc.returncode}")
            if time.perf_counter() > deadline:
                raise SystemExit(f"{self.label}: serve did not answer within 120 s")
            try:
                if httpx.get(self.base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        self.health_s = time.perf_counter() - self.started
        r = httpx.post(
            self.token_url(realm),
            content=self.body(realm),
            headers={"content-type": FORM},
            timeout=30,
        )
        r.raise_for_status()
        self.first_token_s = time.perf_counter() - self.started

    def memory(self) -> Memory:
        return memory(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def connections_per_worker(service: Service) -> dict[int, int]:
    """How many established TCP connections to the service each worker holds."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            next(fh)
            for line in fh:
                fields = line.split()
                if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == service.port:
                    established.add(fields[9])
    found = {}
    for pid in service.memory().workers:
        count = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            count += link.startswith("socket:[") and link[8:-1] in established
        found[pid] = count
    return found


async def ask_tokens(
    service: Service, names: Sequence[str], connections: int
) -> tuple[int, int, list[int]]:
    """Ask for a token of every realm in ``names`` over each of at least ``connections``
    keep-alive connections, opening more until every worker holds one (so that every worker
    loads every realm); the number of 200 answers, of requests, and of connections per worker."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    opened: list[httpx.AsyncClient] = []
    try:
        while True:
            while len(opened) < connections:
                client = httpx.AsyncClient(limits=limits, timeout=30)
                opened.append(client)
                (await client.get(service.base + "/health")).raise_for_status()
            spread = sorted(connections_per_worker(service).values())
            if spread[0] > 0 or connections >= 64:
                break
            connections += 1

        async def one_connection(client: httpx.AsyncClient) -> int:
            ok = 0
            for name in names:
                r = await client.post(
                    service.token_url(name),
                    content=service.body(name),
                    headers={"content-type": FORM},
                )
                ok += r.status_code == 200
            return ok

        ok = sum(await asyncio.gather(*(one_connection(c) for c in opened)))
        return ok, len(names) * len(opened), spread
    finally:
        for client in opened:
            await client.aclose()


# --- the run ----------------------------------------------------------------------------------


def mib(kib: float) -> str:
    return f"{kib / 1024:7.1f} MiB"


def evenly(names: Sequence[str], m: int) -> list[str]:
    """``m`` realms spread evenly over ``names``."""
    m = min(m, len(names))
    return [names[i * len(names) // m] for i in range(m)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--realms", type=int, default=10_000, help="realms to store (N; default %(default)s)"
    )
    parser.add_argument(
        "--clients", type=int, default=5, help="clients per realm (C; default %(default)s)"
    )
    parser.add_argument(
        "--loaded",
        type=int,
        default=1000,
        help="distinct realms to ask tokens from (M; default %(default)s)",
    )
    parser.add_argument(
        "--load-connections",
        type=int,
        default=6,
        help="keep-alive connections that each ask every one of the M realms (more are opened "
        "until every worker holds one; default %(default)s)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="serve --workers (default %(default)s)"
    )
    parser.add_argument(
        "--seconds", type=int, default=5, help="seconds of one wrk round (default %(default)s)"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="wrk rounds per service (default %(default)s)"
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="wrk connections (default %(default)s)"
    )
    parser.add_argument(
        "--database-url", help="an empty database for the N realms (default: a new SQLite file)"
    )
    parser.add_argument(
        "--baseline-url", help="an empty database for the one realm (default: a new SQLite file)"
    )
    parser.add_argument(
        "--realm-cache-size",
        type=int,
        default=DEFAULT_MAX_REALMS,
        help="realms each worker holds in memory (TOKENSMITH_REALM_CACHE_SIZE; default "
        "%(default)s); below --loaded, the loaded realms displace each other",
    )
    args = parser.parse_args()
    if min(args.realms, args.clients, args.loaded, args.rounds, args.realm_cache_size) < 1:
        parser.error(
            "--realms, --clients, --loaded, --rounds and --realm-cache-size must be at least 1"
        )
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    tmp = Path(tempfile.mkdtemp(prefix="tokensmith-realms-"))
    services: list[Service] = []
    try:
        run(args, tmp, services)
    finally:
        for service in services:
            service.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path, services: list[Service]) -> None:
    def settings(url: str | None, name: str) -> Settings:
        return Settings(
            database_url=url or f"sqlite:///{tmp / name}.db",
            master_key_file=tmp / f"{name}.key",
            realm_cache_size=args.realm_cache_size,
        )

    print(f"populating {args.realms} realms x {args.clients} clients ...", flush=True)
    many = asyncio.run(populate(settings(args.database_url, "many"), args.realms, args.clients))
    one = asyncio.run(populate(settings(args.baseline_url, "one"), 1, args.clients))
    n = args.realms
    print(
        f"  populated in {many.total_s:.1f} s: template realm via the Admin API "
        f"{many.template_s:.2f} s, signing keys {many.keys_s:.1f} s "
        f"({many.keys_s / max(n - 1, 1) * 1e6:.0f} us per realm), rows {many.rows_s:.1f} s",
        flush=True,
    )

    last = realm_name(n - 1)
    big = Service("many", many, args.workers, tmp)
    services.append(big)
    big.wait_started(last)
    small = Service("one", one, args.workers, tmp)
    services.append(small)
    small.wait_started(realm_name(0))
    for s in (big, small):
        print(
            f"  {s.label:>4}: first /health 200 after {s.health_s:.2f} s, "
            f"first token of {last if s is big else realm_name(0)} after {s.first_token_s:.2f} s",
            flush=True,
        )

    time.sleep(2 * 2.0)  # a poll or two: whatever the pollers keep is in memory
    for s in (big, small):
        s.at_startup = s.memory()
    loaded = evenly([realm_name(i) for i in range(n)], args.loaded)
    t0 = time.perf_counter()
    ok, asked, spread = asyncio.run(ask_tokens(big, loaded, args.load_connections))
    load_s = time.perf_counter() - t0
    ok_small, asked_small, _ = asyncio.run(
        ask_tokens(small, [realm_name(0)] * len(loaded), args.load_connections)
    )
    if ok != asked or ok_small != asked_small:
        raise SystemExit(f"tokens refused: {asked - ok} of many, {asked_small - ok_small} of one")
    time.sleep(2 * 2.0)
    for s in (big, small):
        s.after_load = s.memory()
        if sorted(s.after_load.workers) != sorted(s.at_startup.workers):
            raise SystemExit(f"{s.label}: a worker was restarted while realms were loaded")
    print(
        f"  asked {len(loaded)} realms x {asked // len(loaded)} connections "
        f"({'+'.join(map(str, spread))} per worker) in {load_s:.1f} s "
        f"({load_s / asked * 1000:.2f} ms per token, first loads included)",
        flush=True,
    )

    scripts = {}
    for s, realm in ((big, last), (small, realm_name(0))):
        script = tmp / f"{s.label}.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.body = "{s.body(realm)}"\n'
            f'wrk.headers["Content-Type"] = "{FORM}"\n'
        )
        scripts[s.label] = (s.token_url(realm), script)

    def measure(s: Service, seconds: int) -> dict[str, float]:
        """One wrk round; also the CPU time the service used per token, which the other load
        on a shared machine disturbs far less than tokens/s."""
        url, script = scripts[s.label]
        pids = descendants(s.proc.pid)
        cpu = cpu_seconds(pids)
        result = wrk(url, seconds, args.connections, script)
        cpu = cpu_seconds(pids) - cpu
        if sorted(descendants(s.proc.pid)) != sorted(pids):
            raise SystemExit(f"{s.label}: a worker was restarted during a round")
        result["cpu_us"] = cpu / max(result["rps"] * seconds, 1) * 1e6
        return result

    for s in (big, small):
        measure(s, 2)  # warm up: every worker has loaded the realm and client
    ratios = []
    for i in range(args.rounds):
        for s in (small, big) if i % 2 == 0 else (big, small):
            s.rounds.append(measure(s, args.seconds))
        ratios.append(big.rounds[-1]["rps"] / small.rounds[-1]["rps"])
        print(
            f"  round {i + 1}: one realm {small.rounds[-1]['rps']:.0f} tokens/s "
            f"({small.rounds[-1]['cpu_us']:.0f} us CPU each), realm {n} of {n} "
            f"{big.rounds[-1]['rps']:.0f} tokens/s ({big.rounds[-1]['cpu_us']:.0f} us), "
            f"ratio {ratios[-1]:.3f}",
            flush=True,
        )
    report(args, many, big, small, ratios, len(loaded))


def report(
    args: argparse.Namespace,
    many: Population,
    big: Service,
    small: Service,
    ratios: list[float],
    m: int,
) -> None:
    n = args.realms

    def med(s: Service, key: str) -> float:
        return statistics.median(r[key] for r in s.rounds)

    def growth(s: Service) -> list[int]:
        return [s.after_load.workers.get(p, 0) - v for p, v in s.at_startup.workers.items()]

    print()
    print(
        f"{n} realms x {args.clients} clients (ES256), serve --workers {args.workers}, "
        "against one realm:"
    )
    print(
        f"  population            : {many.total_s:6.1f} s  (signing keys "
        f"{many.keys_s:.1f} s, rows {many.rows_s:.1f} s, template {many.template_s:.2f} s)"
    )
    print(
        f"  startup to /health    : {big.health_s:6.2f} s  (one realm {small.health_s:.2f} s)"
        "   target <= 10 s"
    )
    print(
        f"  to the first token    : {big.first_token_s:6.2f} s  (one realm "
        f"{small.first_token_s:.2f} s), of the last realm"
    )
    stored = (big.at_startup.tree - small.at_startup.tree) / max(n - 1, 1)
    print(
        f"  RSS tree at startup   : {mib(big.at_startup.tree)}  (one realm "
        f"{mib(small.at_startup.tree)}): {stored:+.2f} KiB per stored realm"
    )
    grown_big, grown_small = growth(big), growth(small)
    per_worker = (sum(grown_big) - sum(grown_small)) / max(len(grown_big), 1)
    print(
        f"  {f'RSS tree, {m} loaded':<22}: {mib(big.after_load.tree)}  (one realm "
        f"{mib(small.after_load.tree)}): {per_worker / m:+.1f} KiB per realm loaded in a worker"
    )
    print(
        "  worker RSS growth     : "
        + ", ".join(f"{v / 1024:+.1f}" for v in grown_big)
        + " MiB  (one realm "
        + ", ".join(f"{v / 1024:+.1f}" for v in grown_small)
        + " MiB)"
    )
    for s, name in ((small, "one realm"), (big, f"realm {n} of {n}")):
        print(
            f"  {name:<22}: {med(s, 'rps'):7.0f} tokens/s  p50 {med(s, 'p50'):5.2f} ms"
            f"  p99 {med(s, 'p99'):6.2f} ms  {med(s, 'cpu_us'):4.0f} us CPU per token"
        )
    errors = sum(r["errors"] for s in (big, small) for r in s.rounds)
    print(
        f"  {f'ratio, median of {len(ratios)}':<22}: {statistics.median(ratios):6.3f}"
        "   target >= 0.90"
        f"   non-2xx responses: {errors:.0f}"
    )
    print(
        f"  {'CPU per token ratio':<22}: {med(small, 'cpu_us') / med(big, 'cpu_us'):6.3f}"
        "   (one realm's CPU per token / this one's: the same target, less noise)"
    )


if __name__ == "__main__":
    main()

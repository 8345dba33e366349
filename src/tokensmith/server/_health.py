"""Liveness and readiness, as ``/health/live`` and ``/health/ready`` answer them (the
MicroProfile Health shape that Keycloak and Hydra use): ``{"status": "UP"|"DOWN", "checks":
[{"name": …, "status": …, "data": {…}}]}``, 200 when UP, 503 when DOWN.

Live means the process answers; it reads nothing. Ready means this process can issue tokens:

- ``database``: the database answers a read within :data:`CHECK_TIMEOUT` seconds;
- ``schema``: it holds this version's schema (the migrations are current);
- ``master-key``: the master key opens the database's check value;
- ``signing-keys``: the master key decrypts every realm's current and next signing key (the
  keys it signs with now and after its next rotation), and every realm has a current key.

The first two are read per probe, but at most once per :data:`CACHE_FOR` seconds however many
probes arrive (they share one read), so a flood of probes cannot load the database. The last two
would cost a decryption per key, 20,000 for a service of 10,000 realms: they are checked by a
background scan instead, of every realm when the process starts and then only of realms whose
version changed since (a key rotation, a new realm), noticed by reading the realms' versions
every :data:`SCAN_EVERY` seconds and at once when this process learns of a change (a poll or a
notification). A probe reports the last scan's result. Nothing in an answer is secret: no key,
no database URL, no traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..store import Database, meta, realms
from ._keys import MasterKey
from ._state import Registry

log = logging.getLogger("tokensmith.server")

CHECK_TIMEOUT = 2.0
"""Seconds a readiness probe waits for the database at most."""
CACHE_FOR = 1.0
"""Seconds the database and schema checks' result is reused by later probes."""
SCAN_EVERY = 30.0
"""Seconds between reads of the realms' versions that find signing keys to check again."""
_RETRY_SCAN = 2.0  # after a scan that could not read the database
_MIN_GAP = 1.0  # seconds between two scans at least
_SHOWN = 10  # failing realms named in an answer at most

LIVE_BODY = b'{"status":"UP","checks":[]}'


@dataclass(frozen=True)
class Check:
    """One readiness check's outcome; ``data`` says why it is down (never a secret)."""

    name: str
    up: bool
    data: dict[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """The check as MicroProfile Health writes one."""
        answer: dict[str, object] = {"name": self.name, "status": "UP" if self.up else "DOWN"}
        if self.data:
            answer["data"] = self.data
        return answer


def render(checks: list[Check]) -> tuple[int, bytes]:
    """The status code and JSON body of a health answer made of ``checks``."""
    up = all(check.up for check in checks)
    body = {"status": "UP" if up else "DOWN", "checks": [check.as_json() for check in checks]}
    return (200 if up else 503), json.dumps(body, separators=(",", ":")).encode()


class Health:
    """The readiness of one process: the per-probe database checks, cached and shared, and the
    background scan of the master key and signing keys (:meth:`start` starts it)."""

    def __init__(
        self,
        db: Database,
        master: MasterKey,
        registry: Registry,
        *,
        timeout: float = CHECK_TIMEOUT,
        cache_for: float = CACHE_FOR,
        scan_every: float = SCAN_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.master = master
        self.registry = registry
        self.timeout = timeout
        self.cache_for = cache_for
        self.scan_every = scan_every
        self._monotonic = monotonic
        self._database: tuple[float, tuple[str | None, str | None]] | None = None
        self._reading: asyncio.Future[tuple[str | None, str | None]] | None = None
        self._checked: dict[int, int] = {}  # realm id → the version its keys were checked at
        self._failing: dict[int, tuple[str, str]] = {}  # realm id → (name, why)
        self._master_ok: bool | None = None  # None until the first scan
        self._scan_failed: str | None = None
        self._scanned = asyncio.Event()  # the first scan has ended, well or not
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Health(realms_checked={len(self._checked)}, failing={len(self._failing)})"

    def start(self) -> None:
        """Scan the keys now and keep scanning in the background."""
        if self._task is None:
            self.registry.watchers.append(self._changed)
            self._task = asyncio.get_running_loop().create_task(self._scanning())

    async def stop(self) -> None:
        """Stop scanning."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            with contextlib.suppress(ValueError):
                self.registry.watchers.remove(self._changed)

    async def ready(self) -> tuple[int, bytes]:
        """The status code and body of ``/health/ready``."""
        unreachable, schema = await self._read_database()
        checks = [Check("database", unreachable is None, _why(unreachable))]
        if unreachable is not None:
            schema = "not known: the database cannot be read"
        checks.append(Check("schema", schema is None, _why(schema)))
        if not self._scanned.is_set():  # just started: the first scan is under way
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._scanned.wait(), self.timeout)
        checks.extend(self._key_checks())
        return render(checks)

    async def _read_database(self) -> tuple[str | None, str | None]:
        """The database's reachability and schema problems, read at most once per
        ``cache_for`` seconds; concurrent probes share one read."""
        now = self._monotonic()
        if self._database is not None and now - self._database[0] < self.cache_for:
            return self._database[1]
        if self._reading is None:
            self._reading = asyncio.ensure_future(self.db.readiness(self.timeout))
            self._reading.add_done_callback(self._read)
        return await asyncio.shield(self._reading)

    def _read(self, reading: asyncio.Future[tuple[str | None, str | None]]) -> None:
        self._reading = None
        if not reading.cancelled() and reading.exception() is None:
            self._database = (self._monotonic(), reading.result())

    def _key_checks(self) -> list[Check]:
        if self._master_ok is None:
            why = self._scan_failed or "not checked yet: the first scan is under way"
            return [Check("master-key", False, _why(why)), Check("signing-keys", False, _why(why))]
        master = Check(
            "master-key",
            self._master_ok,
            {}
            if self._master_ok
            else _why("the master key does not open this database's check value"),
        )
        if not self._failing:
            return [master, Check("signing-keys", True)]
        failing = sorted(self._failing.values())
        data: dict[str, object] = {
            "reason": "realms whose signing keys this service cannot use",
            "failing": len(failing),
            "realms": dict(failing[:_SHOWN]),
        }
        return [master, Check("signing-keys", False, data)]

    def _changed(self, _name: str | None) -> None:
        self._wake.set()

    async def _scanning(self) -> None:
        while True:
            try:
                await self.scan()
                self._scan_failed = None
                wait = self.scan_every
            except Exception as exc:  # the database is away: the database check says so
                if self._scan_failed is None:
                    log.warning("cannot check the signing keys: %s", type(exc).__name__)
                self._scan_failed = f"the signing keys could not be read ({type(exc).__name__})"
                wait = _RETRY_SCAN
            self._scanned.set()
            await asyncio.sleep(_MIN_GAP)  # a burst of changes (a script) wakes one scan
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    async def scan(self) -> None:
        """Check the master key, and the signing keys of every realm not checked at its current
        version; forget realms that are gone.

        Raises:
            DatabaseUnavailable: the database cannot be read.
        """
        async with self.db.read() as conn:
            check = await meta.get_value(conn, meta.MASTER_KEY_CHECK)
            versions = await realms.all_versions(conn)
        self._master_ok = check is None or self.master.opens(check.encode())
        changed = [rid for rid, (_, v) in versions.items() if self._checked.get(rid) != v]
        for start in range(0, len(changed), _BATCH):
            batch = changed[start : start + _BATCH]
            async with self.db.read() as conn:
                keys = await realms.signing_keys_in_use(conn, batch)
            found: dict[int, dict[str, bytes]] = {rid: {} for rid in batch}
            for realm_id, state, key in keys:
                found[realm_id][state] = key
            for realm_id in batch:
                name, version = versions[realm_id]
                why = self._unusable(found[realm_id])
                if why is None:
                    self._failing.pop(realm_id, None)
                else:
                    if realm_id not in self._failing:
                        log.error("realm %s: %s", name, why)
                    self._failing[realm_id] = (name, why)
                self._checked[realm_id] = version
            await asyncio.sleep(0)  # let requests in between batches
        for realm_id in set(self._checked) - set(versions):
            del self._checked[realm_id]
            self._failing.pop(realm_id, None)

    def _unusable(self, keys: dict[str, bytes]) -> str | None:
        """Why a realm with these current and next keys cannot sign, or None."""
        if "current" not in keys:
            return "it has no current signing key; run `tokensmith key rotate`"
        for state in ("current", "next"):
            if state in keys and not self.master.opens(keys[state]):
                return (
                    f"the master key does not decrypt its {state} signing key (encrypted under "
                    "another master key)"
                )
        return None


_BATCH = 500  # realms whose keys are read and decrypted between two turns of the event loop


def _why(reason: str | None) -> dict[str, object]:
    return {} if reason is None else {"reason": reason}

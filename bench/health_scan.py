"""Readiness key-scan benchmark: what checking every realm's signing keys costs a process.

Populates a new SQLite database with N realms (as ``bench/realms.py`` does), then runs the
readiness scan (``tokensmith.server._health.Health.scan``) twice: the first pass, which every
process makes when it starts (every realm's current and next keys decrypted), and a pass with
nothing changed, which a process makes every 30 s. Prints for each the wall and CPU time and the
longest time the event loop was held up (what a request arriving meanwhile would wait).

    python bench/health_scan.py [--realms 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from realms import populate

from tokensmith.server import Settings, open_master_key
from tokensmith.server._health import Health
from tokensmith.server._keys import new_master_key_value
from tokensmith.server._state import Registry
from tokensmith.store import Database


async def _longest_stall(done: asyncio.Event) -> float:
    """The longest a 1 ms sleep overslept until ``done``."""
    worst = 0.0
    while not done.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        worst = max(worst, time.perf_counter() - started - 0.001)
    return worst


async def _run(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'realms.db'}", master_key=new_master_key_value()
        )
        await populate(settings, count, 1)
        db = Database(settings.database_url)
        try:
            master = await open_master_key(db, settings.master_key, settings.key_file())
            health = Health(db, master, Registry(db, master))
            print(f"readiness key scan of {count} realms (SQLite):")
            for label in ("first pass", "nothing changed"):
                done = asyncio.Event()
                stalls = asyncio.create_task(_longest_stall(done))
                wall, cpu = time.perf_counter(), time.process_time()
                await health.scan()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                done.set()
                stall = await stalls
                print(
                    f"  {label:<16} wall {wall * 1000:6.0f} ms   CPU {cpu * 1000:6.0f} ms   "
                    f"longest stall {stall * 1000:4.0f} ms"
                )
        finally:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realms", type=int, default=10000)
    args = parser.parse_args()
    asyncio.run(_run(args.realms))


if __name__ == "__main__":
    main()

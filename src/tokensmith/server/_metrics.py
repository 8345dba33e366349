"""Prometheus metrics: the one module that knows ``prometheus_client``.

The counters count events (:mod:`._events`): :class:`Metrics` observes every event, so a call
site reports once, to the log and to the metrics. Label values are bounded: realms that exist,
clients that authenticated, grant types that succeeded, route names (never a raw path), reasons
from a fixed list. A client id that did not authenticate is never a label.

Under ``serve --workers N`` every worker writes its values to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` (a private directory ``serve`` makes before the workers start and
removes when it stops), and a scrape of any worker sums them: a restarted worker writes new
files under its new process id, and the dead one's counters stay in the sums. Gauges keep the
values of live workers only (the supervisor deletes a dead worker's gauge files). With one
worker the values stay in the process's memory.

A request does not touch ``prometheus_client``: its counts add up in a dict of this process
and go to the metrics (:meth:`Metrics.flush`) every poll interval, before this process answers
a scrape, and when it stops. Writing each count through (three memory-mapped writes per token
request, each behind a lock and a ``getpid()``) cost 15-20 % of the token endpoint's CPU
(measured in-process: 117 µs per request without metrics, 140 with them written through); a
scrape then sees another worker's counts up to one poll interval late, and a worker killed
with SIGKILL takes at most that interval's counts with it.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._events import Fields

if TYPE_CHECKING:
    from ._state import Registry

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Seconds; the token endpoint answers in well under a millisecond of work, so the buckets
start there."""

_metrics: Metrics | None = None


def current() -> Metrics | None:
    """This process's metrics, or None when it runs without them (``--no-metrics``)."""
    return _metrics


def metrics() -> Metrics:
    """This process's metrics, made on first use (after ``serve`` set the multiprocess
    directory, when there is one)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


class Metrics:
    """The service's metrics, counted from its events and from :meth:`request` and
    :meth:`sample`."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.directory = os.environ.get(MULTIPROC_DIR) or None
        # In multiprocess mode the values live in files; a scrape reads them (see exposition).
        own = None if self.directory else CollectorRegistry(auto_describe=True)
        self.registry = own
        self.tokens_issued = Counter(
            "tokensmith_tokens_issued",
            "Access tokens issued, by realm, grant type and (authenticated) client.",
            ["realm", "grant", "client"],
            registry=own,
        )
        self.auth_failures = Counter(
            "tokensmith_client_auth_failures",
            "Failed client authentications, by realm and reason.",
            ["realm", "reason"],
            registry=own,
        )
        self.rate_limited = Counter(
            "tokensmith_rate_limit_refusals",
            "Client authentications refused by a rate limit (address or client), by realm.",
            ["realm", "limit"],
            registry=own,
        )
        self.reuse = Counter(
            "tokensmith_refresh_token_reuse",
            "Refresh tokens presented again after use or revocation (each revoked its family).",
            ["realm"],
            registry=own,
        )
        self.events_dropped = Counter(
            "tokensmith_events_dropped",
            "Security events not written to the events table because more than a flush's worth "
            "came in at once (a flood of failures).",
            registry=own,
        )
        self.database_errors = Counter(
            "tokensmith_database_errors",
            "Requests that failed because the database could not be reached.",
            registry=own,
        )
        self.database_outages = Counter(
            "tokensmith_database_unavailable",
            "Times a worker found the database unavailable after it had been available.",
            registry=own,
        )
        self.database_up = Gauge(
            "tokensmith_database_up",
            "1 while the database answers, 0 from a failed request until it answers again "
            "(the least among live workers).",
            registry=own,
            multiprocess_mode="livemin",
        )
        self.duration = Histogram(
            "tokensmith_request_duration_seconds",
            "Time to answer a request, by endpoint (route name; any other path is 'other').",
            ["endpoint"],
            buckets=DURATION_BUCKETS,
            registry=own,
        )
        self.key_age = Gauge(
            "tokensmith_signing_key_age_seconds",
            "Age of each cached realm's current signing key (the oldest among live workers).",
            ["realm"],
            registry=own,
            multiprocess_mode="livemax",
        )
        self.cache_entries = Gauge(
            "tokensmith_cache_entries",
            "Entries of each in-memory cache (realms, clients, unknown_client_ids), the most "
            "among live workers.",
            ["cache"],
            registry=own,
            multiprocess_mode="livemax",
        )
        self.database_up.set(1)
        self._children: dict[tuple[Any, ...], Any] = {}
        self._pending: dict[tuple[Any, ...], float] = {}
        self._on: dict[str, Callable[[Fields], None]] = {
            "token_issued": self._token_issued,
            "client_auth_failed": self._auth_failed,
            "rate_limited": self._rate_limited,
            "refresh_token_reused": self._reused,
            "database_error": lambda fields: self.database_errors.inc(),
            "events_dropped": self._events_dropped,
            "database_unavailable": self._unavailable,
            "database_recovered": lambda fields: self.database_up.set(1),
        }

    def observe(self, name: str, fields: Fields) -> None:
        """Count event ``name`` (an :mod:`._events` observer)."""
        count = self._on.get(name)
        if count is not None:
            count(fields)

    def _child(self, metric: Any, *labels: object) -> Any:
        # labels() takes a lock and checks its arguments on every call: the children are kept.
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def _add(self, key: tuple[Any, ...], amount: float = 1.0) -> None:
        pending = self._pending
        pending[key] = pending.get(key, 0.0) + amount

    def _token_issued(self, fields: Fields) -> None:
        self._add((self.tokens_issued, fields["realm"], fields["grant"], fields["client_id"]))

    def _auth_failed(self, fields: Fields) -> None:
        self._add((self.auth_failures, fields["realm"], fields["reason"]))

    def _rate_limited(self, fields: Fields) -> None:
        self._add((self.rate_limited, fields["realm"], fields["limit"]))

    def _reused(self, fields: Fields) -> None:
        self._add((self.reuse, fields["realm"]))

    def _events_dropped(self, fields: Fields) -> None:
        count = fields["count"]
        self._add((self.events_dropped,), float(count) if isinstance(count, int) else 1.0)

    def _unavailable(self, fields: Fields) -> None:
        self.database_outages.inc()
        self.database_up.set(0)

    def request(self, endpoint: str, seconds: float) -> None:
        """Record that a request to ``endpoint`` (a route name) took ``seconds``."""
        pending = self._pending
        bucket = (self.duration, endpoint, bisect_left(DURATION_BUCKETS, seconds))
        pending[bucket] = pending.get(bucket, 0.0) + 1.0
        total = (self.duration, endpoint, None)
        pending[total] = pending.get(total, 0.0) + seconds

    def flush(self) -> None:
        """Add the counts made since the last flush to the metrics."""
        pending, self._pending = self._pending, {}
        for (metric, *labels), amount in pending.items():
            if metric is self.duration:
                endpoint, bucket = labels
                child = self._child(metric, endpoint)
                # Histogram.observe() takes one value; a bucket's count and the sum are the
                # child's _buckets and _sum (the values observe() itself increments).
                if bucket is None:
                    child._sum.inc(amount)
                else:
                    child._buckets[bucket].inc(amount)
            else:
                self._child(metric, *labels).inc(amount)

    def sample(self, registry: Registry) -> None:
        """Set the gauges from what ``registry`` holds now: each realm's signing-key age and the
        cache sizes."""
        now = time.time()
        for name, state in registry.held().items():
            self._child(self.key_age, name).set(max(0.0, now - state.key_created_at))
        sizes = registry.sizes()
        for cache, size in sizes.items():
            self._child(self.cache_entries, cache).set(size)

    def totals(self, realm: str) -> dict[str, int]:
        """The realm's access tokens issued (``tokens``) and failed client authentications
        (``failures``) since the service started, summed over the workers (each worker's counts
        up to one poll interval late, this process's own up to now)."""
        self.flush()
        found = {"tokens": 0.0, "failures": 0.0}
        wanted = {
            "tokensmith_tokens_issued_total": "tokens",
            "tokensmith_client_auth_failures_total": "failures",
        }
        for family in self._collect():
            for sample in family.samples:
                key = wanted.get(sample.name)
                if key is not None and sample.labels.get("realm") == realm:
                    found[key] += sample.value
        return {key: int(value) for key, value in found.items()}

    def _collect(self) -> Any:
        from prometheus_client import CollectorRegistry

        registry = self.registry
        if registry is None:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.directory)  # type: ignore[no-untyped-call]
        return registry.collect()

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric (summed over the workers of ``serve --workers
        N``) and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        self.flush()
        registry = self.registry
        if registry is None:
            from prometheus_client.multiprocess import MultiProcessCollector

            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self.directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST

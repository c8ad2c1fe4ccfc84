"""The scenario-result cache: what a cached scenario holds, its key, and in-memory caches.

A scenario's result depends only on the pool's content, its market factors, the valuation inputs
and the engine version, so it is cached under the SHA-256 of those (:func:`cache_key`). The
runner reads and writes a cache from its worker threads, so a cache must be thread-safe.

The store's cache table (``result_cache``) is never called from a worker: the workflow reads the
entries a run may use in its read session (:meth:`PrefetchedCache.preload`), the runner works on
that in-memory copy, and the workflow writes the entries the run added
(:meth:`PrefetchedCache.fresh`) in the run's record transaction.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol

from engine import __version__
from engine.canonical import canonical_json
from engine.credit._scenarios import Scenario

__all__ = ["ResultCache", "MemoryCache", "PrefetchedCache", "cache_key", "DEFAULT_CACHE"]


class ResultCache(Protocol):
    """Where scenario results are cached: ``get`` returns None on a miss.

    A payload is ``{"metrics": dict of str to float, "pool": ndarray of shape (n_periods,
    len(POOL_FIELDS))}``: the scenario's metrics before the comparison with base, and its
    monthly pool cashflow matrix (currency units).
    """

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, payload: dict[str, Any]) -> None: ...


class MemoryCache:
    """A bounded in-process LRU cache of scenario results (thread-safe).

    Parameters
    ----------
    max_entries : int
        Entries kept; the least recently used goes first.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        """The payload stored under ``key``, or None."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: str, payload: dict[str, Any]) -> None:
        """Store ``payload`` under ``key`` (evicting the least recently used beyond the bound)."""
        with self._lock:
            self._data[key] = payload
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


class PrefetchedCache:
    """The entries of a persistent cache one run may use, read beforehand, plus what it adds.

    Thread-safe; unbounded (it lives for one run).
    """

    def __init__(self) -> None:
        self._known: dict[str, dict[str, Any]] = {}
        self._fresh: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def preload(self, entries: Mapping[str, dict[str, Any]]) -> None:
        """Add entries read from the store (not counted as new)."""
        with self._lock:
            self._known.update(entries)

    def get(self, key: str) -> dict[str, Any] | None:
        """The payload under ``key`` (preloaded or added during the run), or None."""
        with self._lock:
            return self._fresh.get(key) or self._known.get(key)

    def put(self, key: str, payload: dict[str, Any]) -> None:
        """Record a result the run computed; :meth:`fresh` returns it for storing."""
        with self._lock:
            self._fresh[key] = payload

    def fresh(self) -> dict[str, dict[str, Any]]:
        """The entries added by the run, by key, in the order they were added."""
        with self._lock:
            return dict(self._fresh)


#: The process-wide cache :func:`engine.credit.run_stress_test` uses when given none.
DEFAULT_CACHE = MemoryCache()


def cache_key(*, pool_hash: str, scenario: Scenario, analysis_date: date, discount_rate: float,
              horizon: int, delinquent_cdr: Mapping[str, float],
              valuation: Mapping[str, Any] | None = None) -> str:
    """SHA-256 of everything a scenario's result depends on, engine version included.

    Parameters
    ----------
    pool_hash : str
        :meth:`PoolData.content_hash` of the pool.
    scenario : Scenario
        Only its market factors count (a renamed scenario with the same factors hits).
    analysis_date : date
    discount_rate : float
        Annual, decimal, monthly compounded.
    horizon : int
        Months projected.
    delinquent_cdr : mapping of asset_class to annual CDR
        The floor applied to delinquent loans (it changes their cashflows).
    valuation : mapping, optional
        How the run discounts and values the residual (flat or curve, the curve's date used,
        spread and source file hash, the residual valuation): see
        :func:`engine.credit._runner.valuation_facts`.

    Returns
    -------
    str
        64 hexadecimal characters: the SHA-256 of the canonical JSON of these inputs.
    """
    blob = canonical_json({
        "pool": pool_hash,
        "factors": scenario.market_factors.model_dump(),
        "analysis_date": analysis_date,
        "discount_rate": discount_rate,
        "horizon": horizon,
        "delinquent_cdr": dict(delinquent_cdr),
        "valuation": dict(valuation or {}),
        "engine": __version__,
    })
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()

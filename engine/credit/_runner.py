"""Run a stress test: every requested scenario over one pool, in parallel, with a result cache.

``run_stress_test(request) -> StressTestResult``. Scenarios are split into chunks of loans and
run on a thread pool (the numba kernel releases the GIL); a scenario that fails gets status
``error`` with its message while the others complete. Each scenario's result is cached under the
SHA-256 of pool content + scenario factors + analysis date + discount rate + horizon + engine
version, and ``cache_hit`` says whether it came from the cache.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from datetime import date
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from engine import __version__
from engine.credit._cashflows import (
    LOAN_FIELDS,
    POOL_FIELDS,
    LoanArrays,
    discount_factors,
    horizon_of,
    project,
)
from engine.credit._metrics import pool_cashflow, pool_metrics
from engine.credit._scenarios import MarketFactors, Scenario, builtin_scenarios, make_scenario
from engine.credit.models import Pool, PoolData
from engine.errors import InputError, ScenarioError

__all__ = [
    "AnalysisRequest",
    "ScenarioSpec",
    "StressTestRequest",
    "ScenarioResult",
    "StressTestResult",
    "ResultCache",
    "MemoryCache",
    "run_stress_test",
    "discount_yield",
    "CASHFLOW_COLUMNS",
]

#: Columns of a scenario's monthly pool cashflow table.
CASHFLOW_COLUMNS: tuple[str, ...] = (
    "period", "time_years", *POOL_FIELDS, "total_cashflow", "discount_factor", "present_value",
)


class AnalysisRequest(BaseModel):
    """``request`` of the stress-test JSON: the pool and how to value it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: Pool | None = None
    analysis_date: date
    discount_rate: float = Field(default=0.05, ge=-0.05, le=1.0, allow_inf_nan=False,
                                 description="Annual, decimal, monthly compounded.")
    projection_periods: int | None = Field(default=None, ge=1, le=600,
                                           description="Months; default: the longest remaining term.")
    include_cashflows: bool = False


class ScenarioSpec(BaseModel):
    """A custom scenario in a request: ``{name, description, market_factors}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    market_factors: dict[str, float] = Field(default_factory=dict)


class StressTestRequest(BaseModel):
    """The whole stress-test request (ARCHITECTURE.md, "request and response")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: AnalysisRequest
    scenario_names: list[str] = Field(default_factory=lambda: ["base"])
    custom_scenarios: dict[str, ScenarioSpec] = Field(default_factory=dict)
    run_parallel: bool = True
    max_workers: int | None = Field(default=None, ge=1, le=64)
    include_cashflows: bool = False
    include_loan_level: bool = False
    generate_report: bool = True


class ScenarioResult(BaseModel):
    """One scenario's outcome: its response entry plus the tables kept beside it."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    key: str
    scenario: Scenario
    status: Literal["success", "error"]
    error: str | None = None
    execution_time: float
    cache_hit: bool = False
    metrics: dict[str, float | None] = Field(default_factory=dict)
    cashflows: pd.DataFrame | None = Field(default=None, exclude=True, repr=False)
    loan_level: pd.DataFrame | None = Field(default=None, exclude=True, repr=False)


def _json_number(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


class StressTestResult(BaseModel):
    """Every scenario of a run; ``response()`` gives the JSON shape of ARCHITECTURE.md."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    pool_id: str
    pool_name: str
    analysis_date: date
    discount_rate: float
    projection_periods: int
    n_assets: int
    inputs_hash: str
    engine_version: str = __version__
    execution_time_total: float
    include_cashflows: bool = False
    generate_report: bool = True
    scenarios: dict[str, ScenarioResult]
    _run_id: str | None = PrivateAttr(default=None)

    @property
    def run_id(self) -> str | None:
        return self._run_id

    def with_run_id(self, run_id: str) -> "StressTestResult":
        self._run_id = run_id
        return self

    def metrics_frame(self) -> pd.DataFrame:
        """One row per scenario: key, name, status, cache_hit, execution_time, then metrics."""
        rows = []
        for key, r in self.scenarios.items():
            rows.append({"scenario": key, "name": r.scenario.name, "status": r.status,
                         "cache_hit": r.cache_hit, "execution_time": r.execution_time,
                         **r.metrics, "error": r.error})
        return pd.DataFrame(rows)

    def cashflows_frame(self) -> pd.DataFrame:
        """Monthly pool cashflows of every successful scenario, long form with a scenario column."""
        parts = [r.cashflows.assign(scenario=k) for k, r in self.scenarios.items()
                 if r.cashflows is not None]
        if not parts:
            return pd.DataFrame(columns=["scenario", *CASHFLOW_COLUMNS])
        df = pd.concat(parts, ignore_index=True)
        return df[["scenario", *CASHFLOW_COLUMNS]]

    def loan_level_frame(self) -> pd.DataFrame:
        parts = [r.loan_level.assign(scenario=k) for k, r in self.scenarios.items()
                 if r.loan_level is not None]
        if not parts:
            return pd.DataFrame()
        df = pd.concat(parts, ignore_index=True)
        return df[["scenario", *[c for c in df.columns if c != "scenario"]]]

    def _entry(self, r: ScenarioResult) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "pool_name": self.pool_name,
            "analysis_date": self.analysis_date.isoformat(),
            "status": r.status,
            "execution_time": r.execution_time,
            "metrics": {k: _json_number(v) for k, v in r.metrics.items()},
            "analytics": {"scenario": r.scenario.response_dict()},
            "cache_hit": r.cache_hit,
        }
        if r.error:
            entry["error"] = r.error
        if self.include_cashflows and r.cashflows is not None:
            entry["cashflows"] = [
                {k: _json_number(v) for k, v in row.items()}
                for row in r.cashflows.to_dict("records")
            ]
        return entry

    def response(self) -> dict[str, Any]:
        """Scenario key → {pool_name, analysis_date, status, execution_time, metrics, analytics,
        cache_hit}; base carries ``analytics.stress_test_report`` when a report is asked for."""
        out = {k: self._entry(r) for k, r in self.scenarios.items()}
        if self.generate_report and "base" in out:
            ok = [r for r in self.scenarios.values() if r.status == "success"]
            out["base"]["analytics"]["stress_test_report"] = {
                "pool_name": self.pool_name,
                "analysis_date": self.analysis_date.isoformat(),
                "execution_time_total": self.execution_time_total,
                "scenarios_count": len(self.scenarios),
                "scenarios_success": len(ok),
                "scenarios_failed": len(self.scenarios) - len(ok),
                "base_case": out["base"]["metrics"],
                "scenarios": {
                    k: {"name": r.scenario.name, "status": r.status,
                        "execution_time": r.execution_time, "cache_hit": r.cache_hit,
                        "metrics": out[k]["metrics"]}
                    for k, r in self.scenarios.items()
                },
            }
        return out

    def response_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.response(), indent=indent, allow_nan=False)


class ResultCache(Protocol):
    """Where scenario results are cached: ``get`` returns None on a miss."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, payload: dict[str, Any]) -> None: ...


class MemoryCache:
    """A bounded in-process LRU cache of scenario results (thread-safe)."""

    def __init__(self, max_entries: int = 256) -> None:
        self._data: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._data[key] = payload
            self._data.move_to_end(key)
            while len(self._data) > self._max:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


_DEFAULT_CACHE = MemoryCache()


def discount_yield(discount_rate: float, factors: MarketFactors) -> float:
    """``y = discount_rate + interest_rate_shock + discount_rate_shock + spread_widening``."""
    return (discount_rate + factors.interest_rate_shock + factors.discount_rate_shock
            + factors.spread_widening)


def cache_key(*, pool_hash: str, scenario: Scenario, analysis_date: date, discount_rate: float,
              horizon: int) -> str:
    """SHA-256 of everything a scenario's result depends on, engine version included."""
    blob = json.dumps({
        "pool": pool_hash,
        "factors": scenario.market_factors.model_dump(),
        "analysis_date": analysis_date.isoformat(),
        "discount_rate": discount_rate,
        "horizon": horizon,
        "engine": __version__,
    }, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def resolve_scenarios(
    names: list[str], custom: Mapping[str, ScenarioSpec], library: Mapping[str, Scenario]
) -> dict[str, Scenario]:
    """Map requested names to scenarios (base first, always present); ``all`` means the library.

    Raises
    ------
    ScenarioError
        For a name that is neither in the library nor among the request's custom scenarios, or
        a custom factor out of range.
    """
    wanted = list(dict.fromkeys(names or ["base"]))
    if "all" in wanted:
        wanted = [k for k in library if k != "all"] + [w for w in wanted if w != "all"]
    customs = {k: make_scenario(spec.name or k, description=spec.description,
                                market_factors=spec.market_factors)
               for k, spec in custom.items()}
    out: dict[str, Scenario] = {"base": library.get("base") or builtin_scenarios()["base"]}
    unknown = []
    for key in wanted:
        if key in customs:
            out[key] = customs[key]
        elif key in library:
            out[key] = library[key]
        else:
            unknown.append(key)
    for key, sc in customs.items():  # custom scenarios given are run even if not named
        out.setdefault(key, sc)
    if unknown:
        raise ScenarioError(
            f"unknown scenario{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(library)}")
    return out


def _chunks(n: int, workers: int) -> list[tuple[int, int]]:
    if n == 0:
        return [(0, 0)]
    size = max(50_000, math.ceil(n / max(workers * 2, 1)))
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _cashflow_table(pool: np.ndarray, annual_yield: float) -> pd.DataFrame:
    n = pool.shape[0]
    v = discount_factors(annual_yield, n)
    cf = pool_cashflow(pool)
    df = pd.DataFrame(pool, columns=list(POOL_FIELDS))
    df.insert(0, "time_years", np.arange(1, n + 1) / 12.0)
    df.insert(0, "period", np.arange(1, n + 1, dtype=np.int64))
    df["total_cashflow"] = cf
    df["discount_factor"] = v
    df["present_value"] = cf * v
    return df


def _loan_table(pool_data: PoolData, out: np.ndarray) -> pd.DataFrame:
    f = {name: out[:, i] for i, name in enumerate(LOAN_FIELDS)}
    with np.errstate(invalid="ignore", divide="ignore"):
        wal = np.where(f["wal_denominator"] > 0, f["wal_numerator"] / f["wal_denominator"], np.nan)
    frame = pool_data.frame
    return pd.DataFrame({
        "asset_id": frame["asset_id"].to_numpy(),
        "asset_class": frame["asset_class"].to_numpy(),
        "grade": frame["grade"].to_numpy(),
        "status": frame["status"].to_numpy(),
        "starting_balance": frame["balance"].where(frame["status"] != "paid_off", 0.0).to_numpy(),
        "npv": f["npv"],
        "total_principal": f["total_principal"],
        "total_interest": f["total_interest"],
        "total_default": f["total_default"],
        "total_recovery": f["total_recovery"],
        "total_loss": f["total_loss"],
        "cumulative_default_probability": f["cumulative_default_probability"],
        "residual_balance": f["residual"],
        "weighted_average_life": wal,
    })


def run_stress_test(
    request: StressTestRequest,
    *,
    pool: PoolData | None = None,
    library: Mapping[str, Scenario] | None = None,
    cache: ResultCache | None = _DEFAULT_CACHE,
    delinquent_cdr: Mapping[str, float] | None = None,
    progress: Callable[[str, ScenarioResult, int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> StressTestResult:
    """Run every requested scenario over the pool and compare each with the base case.

    Parameters
    ----------
    request : StressTestRequest
        Scenarios, valuation inputs and options. ``request.request.pool`` (JSON shape) is used
        when ``pool`` is not given.
    pool : PoolData, optional
        The validated columnar pool (from :mod:`engine.ingest` or the store).
    library : mapping of key to Scenario, optional
        Scenarios the names refer to; default :func:`builtin_scenarios` (predefined + Fed).
    cache : ResultCache or None
        Scenario-result cache; None disables it. Default: a process-wide in-memory LRU.
    delinquent_cdr : mapping of asset_class to annual CDR, optional
        CDR floor for delinquent loans; default the packaged assumption table's values.
    progress : callable, optional
        Called as ``progress(key, result, n_done, n_total)`` when a scenario finishes.
    cancel : threading.Event, optional
        When set, scenarios not yet finished end with status ``error`` ("cancelled").

    Returns
    -------
    StressTestResult

    Raises
    ------
    InputError
        No pool given, or an empty pool.
    ScenarioError
        An unknown scenario name or a custom factor out of its range.
    """
    t_start = time.perf_counter()
    inner = request.request
    if pool is None:
        if inner.pool is None:
            raise InputError("no pool: give request.pool (JSON) or a stored pool")
        from engine.ingest import read_pool  # validation and assumption fill, as for a file

        pool = read_pool(inner.pool.model_dump_json().encode(), filename="pool.json")
    if pool.n_assets == 0:
        raise InputError(f"pool {pool.pool_name!r} has no assets")
    scenarios = resolve_scenarios(request.scenario_names, request.custom_scenarios,
                                  library if library is not None else builtin_scenarios())
    if delinquent_cdr is None:
        delinquent_cdr = _default_delinquent_cdr()
    loans = LoanArrays.from_frame(pool.frame, delinquent_cdr=delinquent_cdr)
    horizon, n_periods = horizon_of(loans, inner.projection_periods)
    starting_balance = float(loans.balance.sum())
    pool_hash = pool.content_hash()
    loan_level = request.include_loan_level
    if not loan_level:  # pool sums only: the fast kernel wants loans grouped by recovery lag
        loans = loans.sorted_for_projection()
    workers = request.max_workers or min(os.cpu_count() or 1, 8)
    if not request.run_parallel:
        workers = 1
    chunks = _chunks(loans.n_assets, workers)

    keys = {k: cache_key(pool_hash=pool_hash, scenario=s, analysis_date=inner.analysis_date,
                         discount_rate=inner.discount_rate, horizon=horizon)
            for k, s in scenarios.items()}
    results: dict[str, ScenarioResult] = {}
    pending: dict[str, dict[str, Any]] = {}
    for k, sc in scenarios.items():
        hit = cache.get(keys[k]) if (cache is not None and not loan_level) else None
        if hit is not None:
            y = discount_yield(inner.discount_rate, sc.market_factors)
            results[k] = ScenarioResult(
                key=k, scenario=sc, status="success", execution_time=0.0, cache_hit=True,
                metrics=dict(hit["metrics"]), cashflows=_cashflow_table(hit["pool"], y))
        else:
            pending[k] = {"pool": np.zeros((n_periods, len(POOL_FIELDS))),
                          "loans": [None] * len(chunks), "left": len(chunks),
                          "error": None, "t0": None, "t1": None}

    lock = threading.Lock()
    done_count = [len(results)]
    total = len(scenarios)
    if progress:
        for k, r in list(results.items()):
            progress(k, r, done_count[0], total)

    def finish(k: str) -> None:
        st = pending[k]
        sc = scenarios[k]
        elapsed = (st["t1"] or time.perf_counter()) - (st["t0"] or time.perf_counter())
        if st["error"] is not None:
            res = ScenarioResult(key=k, scenario=sc, status="error", error=st["error"],
                                 execution_time=elapsed)
        else:
            y = discount_yield(inner.discount_rate, sc.market_factors)
            try:
                metrics = pool_metrics(st["pool"], starting_balance=starting_balance,
                                       annual_yield=y)
                loan_df = (_loan_table(pool, np.concatenate(st["loans"]))
                           if loan_level else None)
                res = ScenarioResult(key=k, scenario=sc, status="success",
                                     execution_time=elapsed, metrics=metrics,
                                     cashflows=_cashflow_table(st["pool"], y),
                                     loan_level=loan_df)
                if cache is not None and not loan_level:
                    cache.put(keys[k], {"metrics": metrics, "pool": st["pool"]})
            except Exception as exc:  # noqa: BLE001 - isolate one scenario's failure
                res = ScenarioResult(key=k, scenario=sc, status="error",
                                     error=f"{type(exc).__name__}: {exc}", execution_time=elapsed)
        results[k] = res
        done_count[0] += 1
        if progress:
            progress(k, res, done_count[0], total)

    def task(k: str, ci: int) -> None:
        st = pending[k]
        with lock:
            if st["t0"] is None:
                st["t0"] = time.perf_counter()
        try:
            if cancel is not None and cancel.is_set():
                raise InterruptedError("cancelled by the user")
            if st["error"] is None:
                sc = scenarios[k]
                a, b = chunks[ci]
                y = discount_yield(inner.discount_rate, sc.market_factors)
                part, loans_out = project(loans.take(a, b), sc.market_factors, annual_yield=y,
                                          horizon=horizon, n_periods=n_periods,
                                          loan_level=loan_level)
                with lock:
                    st["pool"] += part
                    st["loans"][ci] = loans_out
        except InterruptedError as exc:
            with lock:
                st["error"] = str(exc)
        except Exception as exc:  # noqa: BLE001 - a failing scenario must not stop the others
            with lock:
                st["error"] = f"{type(exc).__name__}: {exc}"
        with lock:
            st["left"] -= 1
            last = st["left"] == 0
            if last:
                st["t1"] = time.perf_counter()
        if last:
            finish(k)

    jobs = [(k, ci) for k in pending for ci in range(len(chunks))]
    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stress") as ex:
            for f in [ex.submit(task, k, ci) for k, ci in jobs]:
                f.result()
    else:
        for k, ci in jobs:
            task(k, ci)

    base_npv = results["base"].metrics.get("npv") if results["base"].status == "success" else None
    final: dict[str, ScenarioResult] = {}
    for k in scenarios:
        r = results[k]
        if r.status == "success":
            m = dict(r.metrics)
            if base_npv is not None:
                m["npv_change"] = m["npv"] - base_npv
                m["npv_change_percent"] = (m["npv"] - base_npv) / base_npv * 100.0 if base_npv else None
            else:
                m["npv_change"] = m["npv_change_percent"] = None
            r = r.model_copy(update={"metrics": m})
        final[k] = r

    return StressTestResult(
        pool_id=pool.pool_id,
        pool_name=pool.pool_name,
        analysis_date=inner.analysis_date,
        discount_rate=inner.discount_rate,
        projection_periods=horizon,
        n_assets=pool.n_assets,
        inputs_hash=hashlib.sha256(
            (pool_hash + json.dumps(request.model_dump(mode="json", exclude={"request": {"pool"}}),
                                    sort_keys=True)).encode()).hexdigest(),
        execution_time_total=time.perf_counter() - t_start,
        include_cashflows=request.include_cashflows or inner.include_cashflows,
        generate_report=request.generate_report,
        scenarios=final,
    )


@lru_cache(maxsize=1)
def _packaged_delinquent_cdr() -> tuple[tuple[str, float], ...]:
    return tuple(_read_delinquent_cdr().items())


def _default_delinquent_cdr() -> dict[str, float]:
    return dict(_packaged_delinquent_cdr())


def _read_delinquent_cdr() -> dict[str, float]:
    """The assumption table's delinquent CDR by asset class (empty if it has none)."""
    try:
        from engine.ingest import load_assumptions
    except ImportError:  # pragma: no cover - ingest is part of the package
        return {}
    table = load_assumptions().to_frame()
    if "delinquent_default_probability" not in table.columns:
        return {}
    rows = table[table["grade"].isna() | (table["grade"].astype("string") == "")]
    rows = rows.dropna(subset=["delinquent_default_probability"])
    return dict(zip(rows["asset_class"].astype(str), rows["delinquent_default_probability"].astype(float),
                    strict=True))

"""Run a stress test: every requested scenario over one pool, in parallel, with a result cache.

Two steps, so a caller can look up cached results (or fail on bad input) before any computing:

* :func:`prepare_run` resolves the scenarios, builds the loan arrays, the horizon and every
  scenario's cache key; it raises the input errors (unknown scenario, factor out of range, empty
  pool).
* :func:`execute_run` computes: scenarios are split into chunks of loans and run on a thread pool
  (the numba kernel releases the GIL); a scenario that fails gets status ``error`` with its
  message while the others complete.

:func:`run_stress_test` does both. Each scenario's result is cached under :func:`cache_key`, and
``cache_hit`` says whether it came from the cache.

**Determinism.** Results are bit-for-bit the same for any number of workers and any thread
timing: chunk boundaries depend on the pool size only (:data:`CHUNK_SIZE` loans each), the loan
order is a stable sort of the pool, the kernels hold no parallel reduction, and a scenario's
chunk tables are kept and summed in chunk order when the last one arrives
(:class:`_ScenarioAccumulator`), never in the order threads finish.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Protocol

import numpy as np
import pandas as pd

from engine.canonical import canonical_json
from engine.credit._cache import DEFAULT_CACHE, ResultCache, cache_key
from engine.credit._cashflows import (  # noqa: F401 - discount_factors kept for callers
    LOAN_FIELDS,
    POOL_FIELDS,
    LoanArrays,
    discount_factors,
    horizon_of,
    project,
    scenario_rates,
    scheduled_balance_fraction,
)
from engine.credit._curve import ZeroCurve, treasury_curve
from engine.credit._metrics import pool_cashflow, pool_metrics
from engine.credit._scenarios import (
    MarketFactors, Scenario, builtin_scenarios, check_custom_key, make_scenario, monthly_factors,
)
from engine.credit.models import (
    PoolData,
    ScenarioResult,
    ScenarioSpec,
    StressTestRequest,
    StressTestResult,
)
from engine.errors import InputError, ScenarioError
from engine.ingest import load_assumptions
from engine.ingest._mappings import whole_months as _series_whole_months
from engine.ingest import read_pool as read_tape

__all__ = [
    "CHUNK_SIZE",
    "ChunkExecutor",
    "ChunkPlan",
    "ChunkProgress",
    "PreparedRun",
    "Progress",
    "ScenarioDiscount",
    "chunk_bounds",
    "chunk_plan",
    "discount_yield",
    "scenario_discount",
    "valuation_facts",
    "execute_run",
    "packaged_delinquent_cdr",
    "prepare_run",
    "project_chunk",
    "resolve_scenarios",
    "roll_forward",
    "run_stress_test",
    "whole_months",
]

#: Loans per chunk of work. Fixed, so the chunks (and every floating-point sum) do not depend on
#: the number of workers.
CHUNK_SIZE = 50_000

#: ``progress(key, result, n_done, n_total)``, called from worker threads as scenarios finish.
Progress = Callable[[str, ScenarioResult, int, int], None]
#: ``chunk_progress(key, n_done, n_total)``, called from worker threads as chunks of loans
#: finish (``n_total``: the chunks of every scenario not served from the cache).
ChunkProgress = Callable[[str, int, int], None]


def discount_yield(discount_rate: float, factors: MarketFactors) -> float:
    """``y = discount_rate + interest_rate_shock + discount_rate_shock + spread_widening``.

    All annual, decimal, monthly compounded.
    """
    return (discount_rate + factors.interest_rate_shock + factors.discount_rate_shock
            + factors.spread_widening)


@dataclass(frozen=True, eq=False)
class ScenarioDiscount:
    """One scenario's discount factors, and its flat yield when it has one.

    Attributes
    ----------
    factors : ndarray of shape (n_periods,)
        Discount factor of month k + 1 at row k.
    flat_yield : float or None
        The single discount yield (annual, decimal, monthly compounded) when the factors are
        ``(1 + y/12) ** -k``: flat discounting with constant factors. None for a curve or a
        path of rates.
    """

    factors: np.ndarray
    flat_yield: float | None


def scenario_discount(
    scenario: Scenario,
    *,
    discount_rate: float,
    n_periods: int,
    curve: ZeroCurve | None = None,
    spread: float = 0.0,
) -> ScenarioDiscount:
    """The discount factors of one scenario, month by month: the one place they are built.

    The scenario's shift in month i is ``s_i = interest_rate_shock_i + discount_rate_shock_i +
    spread_widening_i`` (:func:`engine.credit._scenarios.monthly_factors`, constant or a path).

    * Flat (``curve`` None): ``v_k = prod_{i<=k} 1 / (1 + (r + s_i)/12)`` with ``r`` the
      discount rate, annual decimal, monthly compounded; for constant factors this is
      ``(1 + y/12) ** -k`` with ``y = r + s`` (:func:`discount_yield`), computed as such.
    * Curve: ``v_k = P(t_k) exp(-(spread t_k + sum_{i<=k} s_i / 12))``, ``t_k = k / 12``: the
      spread and the shifts move the continuously compounded zero rate in parallel (for
      constant factors ``P(t_k) exp(-(spread + s) t_k)``).

    Parameters
    ----------
    scenario : Scenario
    discount_rate : float
        Annual, decimal, monthly compounded (flat discounting only).
    n_periods : int
        Months wanted, >= 1.
    curve : ZeroCurve, optional
        The zero curve (:func:`engine.credit._curve.treasury_curve`); None for flat.
    spread : float
        Added to the zero rate, annual decimal, continuously compounded (curve only).

    Returns
    -------
    ScenarioDiscount

    Raises
    ------
    ValueError
        If a month's flat rate gives ``1 + y/12 <= 0``.
    """
    f = monthly_factors(scenario, n_periods)
    shock, dshock, widen = (f["interest_rate_shock"], f["discount_rate_shock"],
                            f["spread_widening"])
    if curve is None:
        y = discount_rate + shock + dshock + widen  # same order as discount_yield
        if n_periods == 0 or np.all(y == y[0]):
            flat = float(y[0]) if n_periods else discount_yield(discount_rate,
                                                                 scenario.market_factors)
            return ScenarioDiscount(discount_factors(flat, n_periods), flat)
        base = 1.0 + y / 12.0
        if np.any(base <= 0.0):
            raise ValueError("a month's discount yield gives 1 + y/12 <= 0")
        return ScenarioDiscount(np.cumprod(1.0 / base), None)
    t = np.arange(1, n_periods + 1, dtype=np.float64) / 12.0
    s = shock + dshock + widen
    if n_periods == 0 or np.all(s == s[0]):
        total = (spread + float(s[0])) * t if n_periods else t
    else:
        total = spread * t + np.cumsum(s) / 12.0
    return ScenarioDiscount(curve.monthly_discount(n_periods) * np.exp(-total), None)


def valuation_facts(request_inner, *, curve: ZeroCurve | None) -> dict[str, object]:
    """What a run records about its valuation (and its cache key holds).

    Parameters
    ----------
    request_inner : AnalysisRequest
    curve : ZeroCurve or None

    Returns
    -------
    dict
        ``discounting``; flat: ``discount_rate``; curve: ``curve_spread`` and
        :meth:`ZeroCurve.describe`; and ``residual_valuation``. Rates annual, decimal.
    """
    facts: dict[str, object] = {"discounting": request_inner.discounting}
    if curve is None:
        facts["discount_rate"] = request_inner.discount_rate
    else:
        facts["curve_spread"] = request_inner.curve_spread
        facts.update(curve.describe())
    facts["residual_valuation"] = request_inner.residual_valuation
    return facts


def whole_months(start: date, end: date) -> int:
    """Whole calendar months from ``start`` to ``end`` (``end >= start``), by the one rule the
    tape readers use to derive ages (:func:`engine.ingest._mappings.whole_months`): a month
    counts once its day of the month is reached (15 Jan → 14 Mar is 1), and an ``end`` on the
    last day of its month completes the month (31 Jan → 28 Feb is 1).
    """
    months = _series_whole_months(pd.Series([pd.Timestamp(start)]), pd.Series([pd.Timestamp(end)]))
    return int(months[0])


def roll_forward(pool: PoolData, *, analysis_date: date,
                 delinquent_cdr: Mapping[str, float] | None = None) -> tuple[PoolData, int]:
    """The pool as expected at ``analysis_date``: rolled forward from its cutoff date.

    With ``m`` = :func:`whole_months` from the cutoff to the analysis date, every performing or
    delinquent loan is aged by ``m`` months and its balance is the expected run-off under the
    base assumptions (no scenario factors), the closed form of
    :func:`engine.credit._cashflows.loan_paths`: ``B_m = B_0 q**m S_m`` with
    ``q = (1 - MDR)(1 - SMM)`` and ``S_m`` the scheduled balance fraction. A loan with ``m`` or
    fewer months left matures before the analysis date and is removed.

    A loan in default at the cutoff is written off in month 1 and recovers in month
    ``1 + recovery_lag`` after the cutoff (the projection's convention). Rolled by ``m``
    months, that recovery falls in month ``1 + recovery_lag - m`` after the analysis date, so
    the loan is kept with its recovery lag shortened to ``recovery_lag - m`` (written off in
    month 1 of the run, it then recovers in the same calendar month), and removed when
    ``m > recovery_lag``: its recovery was received by the analysis date. Its balance and age
    are kept. Paid-off loans are kept as they are; statuses are not changed.

    Not modelled: the recoveries of loans that default during the ``m`` rolled months and
    arrive after the analysis date (the rolled balance has left those defaults out; their
    recoveries are not added to the rolled pool). A pool without a cutoff date is taken as of
    the analysis date (nothing rolled).

    Parameters
    ----------
    pool : PoolData
    analysis_date : date
    delinquent_cdr : mapping of asset_class to annual CDR, optional
        The CDR floor of delinquent loans, as in the run.

    Returns
    -------
    (PoolData, int)
        The rolled pool (its cutoff date set to ``analysis_date``) and ``m``; the pool itself
        and 0 when there is nothing to roll.

    Raises
    ------
    InputError
        If ``analysis_date`` is before the cutoff date, or every loan matures (or, in default,
        recovers) before it.
    """
    cutoff = pool.cutoff_date
    if cutoff is None or analysis_date == cutoff:
        return pool, 0
    if analysis_date < cutoff:
        raise InputError(
            f"analysis date {analysis_date.isoformat()} is before pool {pool.pool_name!r}'s "
            f"cutoff date {cutoff.isoformat()}; the pool cannot be rolled back: give a date on "
            "or after the cutoff")
    m = whole_months(cutoff, analysis_date)
    if m == 0:
        return dataclasses.replace(pool, cutoff_date=analysis_date), 0
    frame = pool.frame
    loans = LoanArrays.from_frame(frame, delinquent_cdr=delinquent_cdr)
    coupon, smm, mdr, _ = scenario_rates(loans, MarketFactors())
    status = frame["status"].astype("string").to_numpy(dtype=object, na_value="")
    runs = (status == "performing") | (status == "delinquent")
    frac = scheduled_balance_fraction(coupon[:, None], remaining=loans.remaining[:, None],
                                      months=np.array([[m]]))[:, 0]
    rolled = frame["balance"].to_numpy(dtype=np.float64) * ((1.0 - mdr) * (1.0 - smm)) ** m * frac
    defaulted = status == "default"
    lag = frame["recovery_lag"].to_numpy(dtype=np.int64)
    keep = np.where(runs, loans.remaining > m, ~defaulted | (lag >= m))
    if not keep.any():
        raise InputError(f"every loan of pool {pool.pool_name!r} matures or has recovered "
                         f"before the analysis date {analysis_date.isoformat()} ({m} months "
                         "after the cutoff)")
    out = frame.copy()
    out["balance"] = np.where(runs, rolled, out["balance"].to_numpy(dtype=np.float64))
    out["age"] = np.where(runs, out["age"].to_numpy() + m, out["age"].to_numpy())
    out["recovery_lag"] = np.where(defaulted, lag - m, lag)
    out = out.loc[keep].reset_index(drop=True).astype(frame.dtypes.to_dict())
    return dataclasses.replace(pool, frame=out, cutoff_date=analysis_date), m


@lru_cache(maxsize=1)
def _packaged_delinquent_cdr() -> tuple[tuple[str, float], ...]:
    return tuple(load_assumptions().delinquent_cdr().items())


def packaged_delinquent_cdr() -> dict[str, float]:
    """The packaged assumption table's CDR floor for delinquent loans, by asset class.

    Returns
    -------
    dict of str to float
        asset_class → annual CDR, decimal (see :meth:`AssumptionTable.delinquent_cdr`).
    """
    return dict(_packaged_delinquent_cdr())


def resolve_scenarios(
    names: list[str], *, custom: Mapping[str, ScenarioSpec], library: Mapping[str, Scenario]
) -> dict[str, Scenario]:
    """Map requested names to scenarios (base first, always present); ``all`` means the library.

    Parameters
    ----------
    names : list of str
        Keys of ``library`` or of ``custom``; ``"all"`` stands for every library scenario.
    custom : mapping of key to ScenarioSpec
        The request's own scenarios; each is run even when not named.
    library : mapping of key to Scenario
        Predefined, Federal Reserve and stored custom scenarios.

    Returns
    -------
    dict of key to Scenario
        ``base`` first, then in the order asked.

    Raises
    ------
    ScenarioError
        For a name that is neither in the library nor among the request's custom scenarios, a
        custom key that shadows a built-in one (``base`` included), or a custom factor that is
        not a number or is out of range.
    """
    wanted = list(dict.fromkeys(names or ["base"]))
    if "all" in wanted:
        wanted = [k for k in library if k != "all"] + [w for w in wanted if w != "all"]
    customs = {check_custom_key(k): make_scenario(spec.name or k, description=spec.description,
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


def chunk_bounds(n: int, *, size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    """``[start, stop)`` of each chunk of ``n`` loans: ``size`` loans each, the last one shorter.

    A function of ``n`` (and ``size``) only, never of the number of workers. An empty pool has
    one empty chunk.
    """
    if n == 0:
        return [(0, 0)]
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def _cashflow_table(pool: np.ndarray, v: np.ndarray) -> pd.DataFrame:
    n = pool.shape[0]
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


@dataclass(frozen=True, eq=False)
class PreparedRun:
    """A stress test ready to compute: everything :func:`execute_run` needs, inputs checked.

    Attributes
    ----------
    request : StressTestRequest
    pool : PoolData
    scenarios : dict of key to Scenario
        Base first, then in the order asked.
    loans : LoanArrays
        The pool's arrays, sorted for the fast kernel unless loan-level results are asked for.
    horizon : int
        Months projected.
    n_periods : int
        Rows of each pool cashflow table (horizon + the longest recovery lag).
    full_horizon, full_n_periods : int
        The same for the full run-off (the longest remaining term).
    run_off : bool
        The residual at a horizon that cuts the run-off is valued by the scenario's own run-off
        beyond it (``residual_valuation="run_off"``): each chunk is also projected to full
        run-off.
    curve : ZeroCurve or None
        The zero curve of curve discounting.
    discounts : dict of key to ScenarioDiscount
        Each scenario's discount factors (:func:`scenario_discount`), ``max(n_periods,
        full_n_periods)`` months when ``run_off``, else ``n_periods``.
    valuation : dict
        :func:`valuation_facts`.
    starting_balance : float
        Sum of current balances (paid-off loans excluded), currency units.
    pool_hash : str
        :meth:`PoolData.content_hash`.
    delinquent_cdr : dict of str to float
        The CDR floor applied to delinquent loans, annual, decimal.
    cache_keys : dict of key to str
        Each scenario's :func:`cache_key`.
    """

    request: StressTestRequest
    pool: PoolData
    scenarios: dict[str, Scenario]
    loans: LoanArrays
    horizon: int
    n_periods: int
    starting_balance: float
    pool_hash: str
    delinquent_cdr: dict[str, float]
    cache_keys: dict[str, str]
    full_horizon: int = 0
    full_n_periods: int = 0
    run_off: bool = False
    curve: ZeroCurve | None = None
    discounts: dict[str, ScenarioDiscount] | None = None
    valuation: dict[str, object] | None = None

    @property
    def loan_level(self) -> bool:
        return self.request.include_loan_level

    def inputs_hash(self) -> str:
        """SHA-256 of the pool's content and every request setting that changes a number."""
        settings = self.request.model_dump(
            mode="json", exclude={"request": {"pool"}, "max_workers": True, "run_parallel": True})
        blob = canonical_json({"pool": self.pool_hash, "request": settings,
                               "delinquent_cdr": self.delinquent_cdr})
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def prepare_run(
    request: StressTestRequest,
    *,
    pool: PoolData | None = None,
    library: Mapping[str, Scenario] | None = None,
    delinquent_cdr: Mapping[str, float] | None = None,
) -> PreparedRun:
    """Check a request against its pool and scenario library and set up the computation.

    Parameters
    ----------
    request : StressTestRequest
        ``request.request.pool`` (JSON shape) is read through :mod:`engine.ingest` (validation
        and assumption fill, as for a file) when ``pool`` is not given.
    pool : PoolData, optional
        The validated columnar pool.
    library : mapping of key to Scenario, optional
        Scenarios the names refer to; default :func:`builtin_scenarios` (predefined + Fed).
    delinquent_cdr : mapping of asset_class to annual CDR, optional
        Floor on the CDR of delinquent loans (an assumption table's
        :meth:`~engine.ingest.AssumptionTable.delinquent_cdr`); default the packaged table's.

    Returns
    -------
    PreparedRun

    Raises
    ------
    InputError
        No pool given, or an empty pool; a curve date outside the Treasury file.
    ScenarioError
        An unknown scenario name or a custom factor out of its range.
    """
    inner = request.request
    if pool is None:
        if inner.pool is None:
            raise InputError("no pool: give request.pool (JSON) or a stored pool")
        pool = read_tape(inner.pool.model_dump_json().encode(), filename="pool.json")
    if pool.n_assets == 0:
        raise InputError(f"pool {pool.pool_name!r} has no assets")
    scenarios = resolve_scenarios(request.scenario_names, custom=request.custom_scenarios,
                                  library=library if library is not None else builtin_scenarios())
    cdr_floor = dict(delinquent_cdr) if delinquent_cdr is not None else packaged_delinquent_cdr()
    cutoff = pool.cutoff_date
    pool, rolled = roll_forward(pool, analysis_date=inner.analysis_date, delinquent_cdr=cdr_floor)
    loans = LoanArrays.from_frame(pool.frame, delinquent_cdr=cdr_floor)
    horizon, n_periods = horizon_of(loans, inner.projection_periods)
    full_horizon, full_n_periods = horizon_of(loans, None)
    run_off = inner.residual_valuation == "run_off" and horizon < full_horizon
    curve = (treasury_curve(inner.curve_date or inner.analysis_date)
             if inner.discounting == "curve" else None)
    valuation = valuation_facts(inner, curve=curve)
    valuation["full_run_off_months"] = full_horizon
    valuation["cutoff_date"] = cutoff.isoformat() if cutoff else None
    valuation["rolled_forward_months"] = rolled
    n_disc = max(n_periods, full_n_periods) if run_off else n_periods
    discounts = {k: scenario_discount(s, discount_rate=inner.discount_rate, n_periods=n_disc,
                                      curve=curve, spread=inner.curve_spread)
                 for k, s in scenarios.items()}
    if not request.include_loan_level:  # pool sums only: the fast kernel wants loans by lag
        loans = loans.sorted_for_projection()
    pool_hash = pool.content_hash()
    keys = {k: cache_key(pool_hash=pool_hash, scenario=s, analysis_date=inner.analysis_date,
                         discount_rate=inner.discount_rate, horizon=horizon,
                         delinquent_cdr=cdr_floor,
                         valuation={**valuation, "run_off": run_off})
            for k, s in scenarios.items()}
    return PreparedRun(request=request, pool=pool, scenarios=scenarios, loans=loans,
                       horizon=horizon, n_periods=n_periods,
                       starting_balance=float(loans.balance.sum()), pool_hash=pool_hash,
                       delinquent_cdr=cdr_floor, cache_keys=keys, full_horizon=full_horizon,
                       full_n_periods=full_n_periods, run_off=run_off, curve=curve,
                       discounts=discounts, valuation=valuation)


_RESID = POOL_FIELDS.index("residual")
_LOSS = POOL_FIELDS.index("loss")
#: Metrics a run-off residual valuation takes from the full run-off table (see :func:`_value`).
_RUN_OFF_METRICS = ("duration", "modified_duration", "convexity", "irr", "discount_yield",
                    "weighted_average_life")


def _value(prepared: PreparedRun, key: str, table: np.ndarray) -> tuple[np.ndarray, dict]:
    """The pool table as shown and the metrics of scenario ``key``.

    ``table`` is the horizon's pool table, stacked over the full run-off's when
    ``prepared.run_off``. Then the residual balance B_H left at the horizon H is valued at the
    present value of the run-off beyond H: ``PV = NPV_full - NPV_H`` with ``NPV_H`` the
    horizon's cashflows without the residual (every flow up to H, recoveries of defaults up to H
    included, is the same in both projections), and the table's ``residual`` column holds
    ``PV / v_H``, its value at the horizon; ``residual_value`` = PV (currency, at the analysis
    date), ``loss_beyond_horizon`` = losses after H. The rate metrics (:data:`_RUN_OFF_METRICS`:
    durations, convexity, IRR, discount yield, WAL) are those of the full run-off table, same
    discount factors: the residual's value is a stream of cash beyond H, not one payment at H.
    The totals (principal, interest, defaults, losses, recoveries) and the residual balance stay
    those of the horizon. At par, the residual column is B_H, ``residual_value`` = B_H v_H, every
    metric is that of the horizon table (the residual paid at H), and ``loss_beyond_horizon``
    is None (not projected) unless the horizon covers the run-off (0).
    """
    n = prepared.n_periods
    d = prepared.discounts[key]
    v = d.factors[:n]
    shown = table[:n]
    balance = shown[:, _RESID].copy()
    if prepared.run_off:
        full = table[n:]
        npv_full = float((pool_cashflow(full) * d.factors[:prepared.full_n_periods]).sum())
        npv_h = float(((pool_cashflow(shown) - balance) * v).sum())
        pv = npv_full - npv_h
        shown = shown.copy()
        shown[:, _RESID] = 0.0
        h = prepared.horizon
        shown[h - 1, _RESID] = pv / v[h - 1]
        beyond = float(full[prepared.horizon:, _LOSS].sum())
    else:
        pv = float((balance * v).sum())
        beyond = 0.0 if prepared.horizon >= prepared.full_horizon else None
    metrics = pool_metrics(shown, starting_balance=prepared.starting_balance,
                           annual_yield=d.flat_yield, discount=v, residual_balance=balance)
    if prepared.run_off:
        whole = pool_metrics(full, starting_balance=prepared.starting_balance,
                             annual_yield=d.flat_yield,
                             discount=d.factors[:prepared.full_n_periods])
        metrics.update({name: whole[name] for name in _RUN_OFF_METRICS})
    metrics["residual_value"] = pv
    metrics["loss_beyond_horizon"] = beyond
    return shown, metrics


class _ScenarioAccumulator:
    """One scenario's chunks as they arrive from the workers (thread-safe).

    Each chunk's pool table (and loan rows) is kept under its chunk index; when the last chunk is
    in, :meth:`result` sums the tables in chunk order, so the sum never depends on which thread
    finished first. A chunk that fails (or is cancelled) fails the scenario; the message kept is
    that of the lowest failing chunk.
    """

    def __init__(self, n_chunks: int) -> None:
        self._parts: list[np.ndarray | None] = [None] * n_chunks
        self._loans: list[np.ndarray | None] = [None] * n_chunks
        self._errors: dict[int, str] = {}
        self._left = n_chunks
        self._lock = threading.Lock()
        self.started: float | None = None
        self.ended: float | None = None

    def start(self) -> None:
        """Note the time the first chunk starts (the scenario's clock)."""
        with self._lock:
            if self.started is None:
                self.started = time.perf_counter()

    @property
    def failed(self) -> bool:
        with self._lock:
            return bool(self._errors)

    def _done_one(self) -> bool:
        self._left -= 1
        if self._left == 0:
            self.ended = time.perf_counter()
            return True
        return False

    def add_part(self, chunk_index: int, part: np.ndarray, loans_out: np.ndarray | None) -> bool:
        """Keep chunk ``chunk_index``'s pool table and loan rows; True if it was the last chunk."""
        with self._lock:
            self._parts[chunk_index] = part
            self._loans[chunk_index] = loans_out
            return self._done_one()

    def fail(self, chunk_index: int, message: str) -> bool:
        """Record that chunk ``chunk_index`` failed; True if it was the last chunk."""
        with self._lock:
            self._errors[chunk_index] = message
            return self._done_one()

    @property
    def finished(self) -> bool:
        with self._lock:
            return self._left == 0

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._errors[min(self._errors)] if self._errors else None

    @property
    def elapsed(self) -> float:
        """Seconds from the first chunk's start to the last chunk's end."""
        if self.started is None:
            return 0.0
        return (self.ended or time.perf_counter()) - self.started

    def result(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The scenario's pool table (chunks summed in chunk order) and loan rows (or None).

        Raises
        ------
        RuntimeError
            If chunks are missing or one failed (check :attr:`error` first).
        """
        with self._lock:
            if self._left or self._errors:
                raise RuntimeError("the scenario is not complete")
            total = np.zeros_like(self._parts[0])
            for part in self._parts:
                total += part
            loans = (np.concatenate(self._loans) if self._loans[0] is not None else None)
        return total, loans


@dataclass(frozen=True, eq=False)
class ChunkPlan:
    """What projecting one scenario over a chunk of loans needs, and nothing of the pool.

    Small (a few kB): a distributed executor sends it to its workers with each task.

    Attributes
    ----------
    factors : MarketFactors
        The scenario's market factors.
    discount : ndarray of shape (max(n_periods, full_n_periods),)
        The scenario's discount factors (:func:`scenario_discount`).
    horizon, n_periods : int
        Months projected and rows of the pool table.
    full_horizon, full_n_periods : int
        The same for the full run-off (used when ``run_off``).
    run_off : bool
        Also project to full run-off and stack its table under the horizon's.
    loan_level : bool
        Keep one row per loan.
    """

    factors: MarketFactors
    discount: np.ndarray
    horizon: int
    n_periods: int
    full_horizon: int
    full_n_periods: int
    run_off: bool
    loan_level: bool


def chunk_plan(prepared: "PreparedRun", key: str) -> ChunkPlan:
    """The :class:`ChunkPlan` of scenario ``key`` of a prepared run."""
    return ChunkPlan(factors=prepared.scenarios[key].market_factors,
                     discount=prepared.discounts[key].factors, horizon=prepared.horizon,
                     n_periods=prepared.n_periods, full_horizon=prepared.full_horizon,
                     full_n_periods=prepared.full_n_periods, run_off=prepared.run_off,
                     loan_level=prepared.loan_level)


def project_chunk(chunk: LoanArrays, *, plan: ChunkPlan) -> tuple[np.ndarray, np.ndarray | None]:
    """Project one chunk of loans under one scenario: the one chunk computation of every executor.

    Parameters
    ----------
    chunk : LoanArrays
        The chunk's loans, in the run's order.
    plan : ChunkPlan

    Returns
    -------
    part : ndarray of shape (n_periods [+ full_n_periods], len(POOL_FIELDS))
        The chunk's pool table (currency units), the full run-off's stacked under it when
        ``plan.run_off``.
    loans_out : ndarray of shape (n_assets, len(LOAN_FIELDS)) or None
        Loan rows when ``plan.loan_level`` (with ``run_off``, the NPV is the full run-off's).
    """
    disc = plan.discount
    part, loans_out = project(chunk, factors=plan.factors, discount=disc[:plan.n_periods],
                              horizon=plan.horizon, n_periods=plan.n_periods,
                              loan_level=plan.loan_level)
    if plan.run_off:  # the scenario's own run-off beyond the horizon
        full, full_loans = project(chunk, factors=plan.factors,
                                   discount=disc[:plan.full_n_periods],
                                   horizon=plan.full_horizon, n_periods=plan.full_n_periods,
                                   loan_level=plan.loan_level)
        part = np.vstack([part, full])
        if loans_out is not None:
            loans_out[:, LOAN_FIELDS.index("npv")] = full_loans[:, 0]
    return part, loans_out


class ChunkExecutor(Protocol):
    """Computes a run's chunks somewhere else than the local thread pool."""

    def run(self, prepared: "PreparedRun", *, plans: dict[str, ChunkPlan],
            chunks: list[tuple[int, int]], sink: "_Sink",
            cancel: threading.Event | None) -> None:
        """Project every chunk (``chunks``, :func:`chunk_bounds`) of ``prepared.loans`` under
        every scenario of ``plans`` (key → plan, the scenarios not served from the cache) with
        :func:`project_chunk`, and hand each chunk to ``sink`` (:meth:`_Sink.add` or
        :meth:`_Sink.fail`, exactly once per scenario and chunk) before returning. When
        ``cancel`` is set, the chunks not yet handed over fail with "cancelled by the user"."""


class _Sink:
    """Where an executor hands each (scenario, chunk) back to :func:`execute_run` (thread-safe).

    The chunk's table goes to the scenario's :class:`_ScenarioAccumulator` under its index; the
    chunk progress callback fires, and the scenario is finished (valued, the progress callback
    called) when its last chunk is in.
    """

    def __init__(self, pending: dict[str, "_ScenarioAccumulator"],
                 settle: Callable[[str, int, bool], None]) -> None:
        self._pending = pending
        self._settle = settle

    def start(self, key: str) -> None:
        """Start scenario ``key``'s clock (its first chunk was sent)."""
        self._pending[key].start()

    def add(self, key: str, chunk_index: int, *, part: np.ndarray,
            loans_out: np.ndarray | None) -> None:
        """Chunk ``chunk_index`` of scenario ``key`` is projected (:func:`project_chunk`)."""
        self._settle(key, chunk_index,
                     self._pending[key].add_part(chunk_index, part, loans_out))

    def fail(self, key: str, chunk_index: int, message: str) -> None:
        """Chunk ``chunk_index`` of scenario ``key`` failed (or was cancelled): ``message``."""
        self._settle(key, chunk_index, self._pending[key].fail(chunk_index, message))


def execute_run(
    prepared: PreparedRun,
    *,
    cache: ResultCache | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    chunk_progress: ChunkProgress | None = None,
    executor: ChunkExecutor | None = None,
) -> StressTestResult:
    """Compute a prepared stress test and compare each scenario with the base case.

    Parameters
    ----------
    prepared : PreparedRun
        From :func:`prepare_run`.
    cache : ResultCache or None
        Scenario-result cache (not used for loan-level runs); None disables it.
    progress : callable, optional
        Called as ``progress(key, result, n_done, n_total)`` when a scenario finishes, from the
        worker thread that finished it (cache hits first, from the calling thread).
    cancel : threading.Event, optional
        When set, scenarios not yet finished end with status ``error`` ("cancelled by the user").
    chunk_progress : callable, optional
        Called as ``chunk_progress(key, n_done, n_total)`` when a chunk of :data:`CHUNK_SIZE`
        loans of scenario ``key`` is projected, from the worker thread that did it; ``n_total``
        counts the chunks of every scenario not served from the cache.
    executor : ChunkExecutor, optional
        Computes the chunks elsewhere (e.g. :class:`engine.credit._dask.DaskExecutor`) with
        :func:`project_chunk` and hands each chunk's table back through a :class:`_Sink`; the
        tables are summed in chunk order here as for the local threads, so results are the
        same bit for bit. Default: the local thread pool (``request.max_workers``).

    Returns
    -------
    StressTestResult
        ``npv_change`` (currency) and ``npv_change_percent`` (percent of the base NPV) are
        filled against the base case; None when the base failed.
    """
    t_start = time.perf_counter()
    request = prepared.request
    inner = request.request
    scenarios = prepared.scenarios
    loans = prepared.loans
    loan_level = prepared.loan_level
    use_cache = cache is not None and not loan_level
    workers = request.max_workers or min(os.cpu_count() or 1, 8)
    if not request.run_parallel:
        workers = 1
    chunks = chunk_bounds(loans.n_assets)

    results: dict[str, ScenarioResult] = {}
    pending: dict[str, _ScenarioAccumulator] = {}
    for k, sc in scenarios.items():
        hit = cache.get(prepared.cache_keys[k]) if use_cache else None
        if hit is not None:
            v = prepared.discounts[k].factors[:prepared.n_periods]
            results[k] = ScenarioResult(
                key=k, scenario=sc, status="success", execution_time=0.0, cache_hit=True,
                metrics=dict(hit["metrics"]), cashflows=_cashflow_table(hit["pool"], v))
        else:
            pending[k] = _ScenarioAccumulator(len(chunks))

    lock = threading.Lock()
    n_done = [len(results)]
    n_total = len(scenarios)
    if progress:
        for i, (k, r) in enumerate(list(results.items()), start=1):
            progress(k, r, i, n_total)

    def finish(k: str) -> None:
        acc = pending[k]
        sc = scenarios[k]
        if acc.error is not None:
            res = ScenarioResult(key=k, scenario=sc, status="error", error=acc.error,
                                 execution_time=acc.elapsed)
        else:
            try:
                pool_table, loan_rows = acc.result()
                pool_table, metrics = _value(prepared, k, pool_table)
                v = prepared.discounts[k].factors[:prepared.n_periods]
                res = ScenarioResult(
                    key=k, scenario=sc, status="success", execution_time=acc.elapsed,
                    metrics=metrics, cashflows=_cashflow_table(pool_table, v),
                    loan_level=(_loan_table(prepared.pool, loan_rows) if loan_level else None))
                if use_cache:
                    cache.put(prepared.cache_keys[k], {"metrics": metrics, "pool": pool_table})
            except Exception as exc:  # noqa: BLE001 - isolate one scenario's failure
                res = ScenarioResult(key=k, scenario=sc, status="error",
                                     error=f"{type(exc).__name__}: {exc}",
                                     execution_time=acc.elapsed)
        with lock:
            results[k] = res
            n_done[0] += 1
            done = n_done[0]
        if progress:
            progress(k, res, done, n_total)

    def settle(k: str, ci: int, last: bool) -> None:
        if chunk_progress:
            with lock:
                n_chunks_done[0] += 1
                done = n_chunks_done[0]
            chunk_progress(k, done, len(jobs))
        if last:
            finish(k)

    def task(k: str, ci: int) -> None:
        acc = pending[k]
        acc.start()
        try:
            if cancel is not None and cancel.is_set():
                raise InterruptedError("cancelled by the user")
            if acc.failed:  # another chunk failed: the scenario is lost, skip the work
                last = acc.fail(ci, "skipped after an earlier failure")
            else:
                a, b = chunks[ci]
                part, loans_out = project_chunk(loans.take(a, b), plan=plans[k])
                last = acc.add_part(ci, part, loans_out)
        except InterruptedError as exc:
            last = acc.fail(ci, str(exc))
        except Exception as exc:  # noqa: BLE001 - a failing scenario must not stop the others
            last = acc.fail(ci, f"{type(exc).__name__}: {exc}")
        settle(k, ci, last)

    jobs = [(k, ci) for k in pending for ci in range(len(chunks))]
    n_chunks_done = [0]
    plans = {k: chunk_plan(prepared, k) for k in pending}
    if executor is not None and jobs:
        executor.run(prepared, plans=plans, chunks=chunks,
                     sink=_Sink(pending, settle), cancel=cancel)
    elif workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="stress") as ex:
            for f in [ex.submit(task, k, ci) for k, ci in jobs]:
                f.result()
    else:
        for k, ci in jobs:
            task(k, ci)

    base = results["base"]
    base_npv = base.metrics.get("npv") if base.status == "success" else None
    final: dict[str, ScenarioResult] = {}
    for k in scenarios:
        r = results[k]
        if r.status == "success":
            m = dict(r.metrics)
            if base_npv is not None:
                m["npv_change"] = m["npv"] - base_npv
                m["npv_change_percent"] = ((m["npv"] - base_npv) / base_npv * 100.0
                                           if base_npv else None)
            else:
                m["npv_change"] = m["npv_change_percent"] = None
            r = r.model_copy(update={"metrics": m})
        final[k] = r

    pool = prepared.pool
    return StressTestResult(
        valuation=dict(prepared.valuation or {}),
        pool_id=pool.pool_id,
        pool_name=pool.pool_name,
        analysis_date=inner.analysis_date,
        discount_rate=inner.discount_rate,
        projection_periods=prepared.horizon,
        n_assets=pool.n_assets,
        inputs_hash=prepared.inputs_hash(),
        execution_time_total=time.perf_counter() - t_start,
        include_cashflows=request.include_cashflows or inner.include_cashflows,
        generate_report=request.generate_report,
        scenarios=final,
    )


def run_stress_test(
    request: StressTestRequest,
    *,
    pool: PoolData | None = None,
    library: Mapping[str, Scenario] | None = None,
    cache: ResultCache | None = DEFAULT_CACHE,
    delinquent_cdr: Mapping[str, float] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> StressTestResult:
    """Run every requested scenario over the pool and compare each with the base case.

    :func:`prepare_run` then :func:`execute_run`; nothing is stored (the workflow
    :func:`engine.credit.workflow.run_stress` records runs).

    Parameters
    ----------
    request : StressTestRequest
        Scenarios, valuation inputs and options.
    pool, library, delinquent_cdr
        As :func:`prepare_run`.
    cache : ResultCache or None
        Scenario-result cache; None disables it. Default: a process-wide in-memory LRU.
    progress, cancel
        As :func:`execute_run`.

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
    prepared = prepare_run(request, pool=pool, library=library, delinquent_cdr=delinquent_cdr)
    return execute_run(prepared, cache=cache, progress=progress, cancel=cancel)

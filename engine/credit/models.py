"""Pydantic models at the credit engine's boundaries: the stress-test request and its result.

The pool models (:class:`Pool`, :class:`Asset`, :class:`PoolData`, :data:`ASSET_COLUMNS`, …) belong
to :mod:`engine.ingest.models`, which owns the canonical tape schema; they are re-exported here so
``engine.credit.models`` names everything a stress test takes and gives.

The request and response follow ARCHITECTURE.md, "Credit stress test: request and response".
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, RootModel
from pydantic import ValidationError as PydanticValidationError

from engine import __version__
from engine.credit._scenarios import (
    MAX_DESCRIPTION_CHARS,
    MAX_NAME_CHARS,
    CustomKey,
    CustomScenario,
    MarketFactors,
    Scenario,
    neutral_warning,
)
from engine.errors import from_pydantic
from engine.ingest.models import (
    ASSET_COLUMNS,
    BEHAVIOURAL_COLUMNS,
    REQUIRED_COLUMNS,
    Asset,
    AssetClass,
    AssetStatus,
    Pool,
    PoolData,
    RateType,
)

__all__ = [
    # the pool (engine.ingest.models)
    "AssetClass",
    "RateType",
    "AssetStatus",
    "Asset",
    "Pool",
    "PoolData",
    "ASSET_COLUMNS",
    "REQUIRED_COLUMNS",
    "BEHAVIOURAL_COLUMNS",
    # the stress test
    "POOL_FIELDS",
    "CASHFLOW_COLUMNS",
    "AnalysisRequest",
    "ScenarioSpec",
    "StressTestRequest",
    "CustomKey",
    "ScenarioDraft",
    "ScenarioResult",
    "StressTestResult",
    # the HTTP API's body and response (the original API's shapes)
    "PoolInput",
    "AnalysisInput",
    "StressTestBody",
    "ResponseMetrics",
    "ScenarioEntry",
    "StressTestResponse",
    "ScenarioInfo",
]

#: Columns of the pool cashflow matrix, shape (n_periods, len(POOL_FIELDS)), currency units.
POOL_FIELDS: tuple[str, ...] = (
    "beginning_balance",
    "scheduled_principal",
    "prepayment",
    "interest",
    "default_amount",
    "recovery",
    "loss",
    "ending_balance",
    "residual",
)

#: The units of every stress-run download, as its provenance states them.
UNITS = ("amounts in the pool's currency (USD for the bundled data); rates, shares and "
         "probabilities annual decimals (0.05 = 5 %), except columns named *_percent, in "
         "percent; time_years, duration and weighted_average_life in years; period and "
         "projection_periods in months; execution_time in seconds")

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
    discounting: Literal["flat", "curve"] = Field(
        default="flat", description="flat: discount_rate, monthly compounded; curve: the US "
        "Treasury zero curve of curve_date plus curve_spread (engine.credit._curve).")
    curve_date: date | None = Field(default=None,
                                    description="Curve date; default the analysis date.")
    curve_spread: float = Field(default=0.0, ge=-0.05, le=0.20, allow_inf_nan=False,
                                description="Added to the continuously compounded zero rate, "
                                "annual, decimal (curve discounting only).")
    residual_valuation: Literal["par", "run_off"] = Field(
        default="par", description="How the balance left at a horizon shorter than the run-off "
        "is valued: at par, or as the present value of the scenario's own run-off beyond it.")


class ScenarioSpec(BaseModel):
    """A custom scenario in a request: ``{name, description, market_factors}``.

    Factors are kept as given (``Any``) and checked strictly when the run resolves its
    scenarios (:func:`engine.credit._scenarios.make_scenario`): ``true`` or ``"2"`` is refused
    there, not read as a number here. The key is checked there too
    (:func:`engine.credit._scenarios.check_custom_key`): it may not shadow a built-in key.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    market_factors: dict[str, Any] = Field(default_factory=dict)


class ScenarioDraft(BaseModel):
    """A custom scenario with its key, as a user writes it in a form: checked before it is saved.

    The key follows the rule every front end applies (:data:`CustomKey`, i.e.
    :func:`engine.credit._scenarios.custom_key_problem`): lower-case letters, digits and ``_``,
    a letter first, at most 120 characters, and no built-in key in any spelling. The app's form,
    a scenario file read by the CLI and a request to the HTTP API refuse the same keys with the
    same words.

    Attributes
    ----------
    key : str
        The key, as typed (blanks around it are removed by :meth:`build`).
    name : str
        At most 120 characters; empty means the key.
    description : str
    market_factors : MarketFactors
        Rates and spreads annual, decimal (0.03 = +300bp); multipliers plain.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: CustomKey
    name: str = Field(default="", max_length=MAX_NAME_CHARS, strict=True)
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS, strict=True)
    market_factors: MarketFactors = Field(default_factory=MarketFactors)

    @classmethod
    def build(cls, key: str, *, name: str = "", description: str = "",
              market_factors: dict[str, Any] | None = None) -> "ScenarioDraft":
        """The draft, or every problem of it at once.

        Parameters
        ----------
        key : str
            Blanks around it are removed first.
        name, description : str
        market_factors : dict of str to number, optional
            Factor → value; a factor not named is neutral.

        Raises
        ------
        ValidationError
            One issue per bad field: ``key`` (the key rule broken, e.g. "a key holds only
            lower-case letters a–z, digits 0–9 and _, and starts with a letter; write it e.g. as
            'my_bad_key'"), ``name``, ``description``, or ``market_factors.<factor>`` (outside
            its valid range, not a number, unknown), each with its value and rule.
        """
        data = {"key": key.strip() if isinstance(key, str) else key, "name": name,
                "description": description,
                "market_factors": {} if market_factors is None else market_factors}
        try:
            return cls.model_validate(data)
        except PydanticValidationError as exc:
            shown = data["key"] if isinstance(data["key"], str) and data["key"] else "(no key)"
            raise from_pydantic(exc, subject=f"custom scenario {shown[:80]!r}") from None

    def to_scenario(self) -> Scenario:
        """The scenario to store (``source="custom"``), named after the key when unnamed."""
        return Scenario(name=self.name.strip() or self.key, description=self.description,
                        market_factors=self.market_factors, source="custom")

    def warning(self) -> str | None:
        """The warning for a draft that changes nothing (every factor neutral), else None."""
        return neutral_warning(self.key, self.to_scenario())


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
    """One scenario's outcome: its response entry plus the tables kept beside it.

    ``cashflows`` is the monthly pool table (columns :data:`CASHFLOW_COLUMNS`, currency units);
    ``loan_level`` one row per loan (NPV, totals, cumulative default probability, WAL) when the
    run asked for loan-level results.
    """

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
    """Every scenario of a run; ``response()`` gives the JSON shape of ARCHITECTURE.md.

    Attributes
    ----------
    pool_id, pool_name : str
    analysis_date : date
    discount_rate : float
        Annual, decimal, monthly compounded (before each scenario's rate shocks).
    projection_periods : int
        The horizon used, months.
    n_assets : int
    inputs_hash : str
        SHA-256 of the pool's content and every setting that changes a number.
    scenarios : dict of str to ScenarioResult
        In run order, base first.
    valuation : dict
        How the run valued: ``discounting`` (``flat`` or ``curve``), ``discount_rate`` (flat)
        or the curve (``curve_date``, ``curve_date_used``, ``curve_spread``, ``source``,
        ``source_sha256``, ``par_yields``, ``method``), ``residual_valuation`` and the horizon
        facts (``full_run_off`` months). Rates annual, decimal. Stored in the base entry of the
        response (``valuation``).
    """

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
    valuation: dict[str, Any] = Field(default_factory=lambda: {"discounting": "flat"})
    _run_id: str | None = PrivateAttr(default=None)

    @property
    def run_id(self) -> str | None:
        """The stored run's id, once the result is recorded or reopened (else None)."""
        return self._run_id

    def with_run_id(self, run_id: str) -> "StressTestResult":
        """Tag this result with the id it is stored under; returns ``self``."""
        self._run_id = run_id
        return self

    def provenance(self) -> dict[str, Any]:
        """Where this result comes from, for every download (CSV header, JSON, Parquet metadata).

        Returns
        -------
        dict
            ``run_id`` (None before the run is recorded), ``pool_id``, ``pool_name``,
            ``analysis_date``, ``cutoff_date``, ``rolled_forward_months``, ``discounting``,
            ``discount_rate`` (flat) or ``curve_date_used``, ``curve_spread``, ``curve_source``
            and ``curve_source_sha256`` (curve), ``projection_periods`` (months),
            ``residual_valuation``, ``engine_version``, ``inputs_hash`` and ``units``. Rates are
            annual decimals.
        """
        v = self.valuation
        out: dict[str, Any] = {
            "run_id": self.run_id, "pool_id": self.pool_id, "pool_name": self.pool_name,
            "analysis_date": self.analysis_date.isoformat(),
            "cutoff_date": v.get("cutoff_date"),
            "rolled_forward_months": v.get("rolled_forward_months", 0),
            "discounting": v.get("discounting", "flat"),
        }
        if out["discounting"] == "curve":
            out.update({"curve_date_used": v.get("curve_date_used"),
                        "curve_spread": v.get("curve_spread"), "curve_source": v.get("source"),
                        "curve_source_sha256": v.get("source_sha256")})
        else:
            out["discount_rate"] = self.discount_rate
        out.update({
            "projection_periods": self.projection_periods,
            "residual_valuation": v.get("residual_valuation", "par"),
            "engine_version": self.engine_version, "inputs_hash": self.inputs_hash,
            "units": UNITS,
        })
        return out

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
        """Loan-level rows of every scenario, long form with a scenario column (empty if none)."""
        parts = [r.loan_level.assign(scenario=k) for k, r in self.scenarios.items()
                 if r.loan_level is not None]
        if not parts:
            return pd.DataFrame()
        df = pd.concat(parts, ignore_index=True)
        return df[["scenario", *[c for c in df.columns if c != "scenario"]]]

    def worst_scenario(self) -> ScenarioResult | None:
        """The successful non-base scenario with the lowest NPV change (None if there is none)."""
        ranked = [r for k, r in self.scenarios.items()
                  if k != "base" and r.status == "success"
                  and r.metrics.get("npv_change") is not None
                  and math.isfinite(r.metrics["npv_change"])]
        return min(ranked, key=lambda r: r.metrics["npv_change"]) if ranked else None

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
        if r.key == "base":
            entry["valuation"] = self.valuation
            entry["provenance"] = self.provenance()
        if self.include_cashflows and r.cashflows is not None:
            entry["cashflows"] = [
                {k: _json_number(v) for k, v in row.items()}
                for row in r.cashflows.to_dict("records")
            ]
        return entry

    def response(self) -> dict[str, Any]:
        """Scenario key → {pool_name, analysis_date, status, execution_time, metrics, analytics,
        cache_hit}; base carries ``analytics.stress_test_report`` when a report is asked for.

        The report also names the run's ``pool_id``, ``n_assets``, ``discount_rate`` (annual,
        decimal) and ``projection_periods`` (months), so a stored response reopens whole.
        """
        out = {k: self._entry(r) for k, r in self.scenarios.items()}
        if self.generate_report and "base" in out:
            ok = [r for r in self.scenarios.values() if r.status == "success"]
            out["base"]["analytics"]["stress_test_report"] = {
                "pool_name": self.pool_name,
                "pool_id": self.pool_id,
                "n_assets": self.n_assets,
                "discount_rate": self.discount_rate,
                "projection_periods": self.projection_periods,
                "valuation": self.valuation,
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
        """:meth:`response` as JSON text (scenario order kept; NaN written as null)."""
        return json.dumps(self.response(), indent=indent, allow_nan=False)


# --------------------------------------------------------------------------- the HTTP API's shapes

class PoolInput(BaseModel):
    """``request.pool`` of the API body: a pool sent whole, or a stored pool named by its id.

    With ``assets`` the pool is read by the tape reader (format ``native``), so a bad asset is
    reported by row (1-based, in list order), field, value and rule, and it is stored under
    ``pool_id`` (the same content under the same id is not stored twice; other content under a
    stored id is refused). Without ``assets``, ``pool_id`` names a stored pool.

    Attributes
    ----------
    pool_id : str
    pool_name : str, optional
    assets : list of dict, optional
        Asset rows with the fields of ARCHITECTURE.md ("Asset fields"): balance in currency
        units, rate annual decimal, term and age in months, prepayment_speed annual CPR,
        default_probability annual CDR, recovery_rate and loss_severity decimal.
    cutoff_date : date, optional
        The date balances and ages refer to.
    metadata : dict
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool_id: str = Field(min_length=1, max_length=200)
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    assets: list[dict[str, Any]] | None = Field(default=None, min_length=1)
    cutoff_date: date | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class AnalysisInput(BaseModel):
    """``request`` of the API body: the pool and how to value it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool: PoolInput
    analysis_date: date | None = Field(
        default=None, description="Default: the pool's cutoff date, else today.")
    discount_rate: float = Field(default=0.05, ge=-0.05, le=1.0, allow_inf_nan=False,
                                 description="Annual, decimal, monthly compounded.")
    projection_periods: int | None = Field(
        default=None, ge=1, le=600, description="Months; default: the longest remaining term.")
    include_cashflows: bool = False
    discounting: Literal["flat", "curve"] = Field(
        default="flat", description="flat: discount_rate; curve: the US Treasury zero curve of "
        "curve_date plus curve_spread.")
    curve_date: date | None = Field(default=None, description="Default: the analysis date.")
    curve_spread: float = Field(default=0.0, ge=-0.05, le=0.20, allow_inf_nan=False,
                                description="Annual, decimal, continuously compounded.")
    residual_valuation: Literal["par", "run_off"] = "par"


class StressTestBody(BaseModel):
    """The body of ``POST /api/v1/asset-classes/stress-testing/run`` and ``async-run``.

    ``scenario_names`` are keys of the library (``all`` = every one); base always runs.
    ``custom_scenarios`` are checked strictly (keys may not shadow a built-in key; factors are
    numbers within ARCHITECTURE.md's ranges). ``run_parallel`` False runs on one thread;
    ``include_cashflows`` (here or in ``request``) adds each scenario's monthly cashflows;
    ``generate_report`` adds ``analytics.stress_test_report`` to base.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    request: AnalysisInput
    scenario_names: list[str] = Field(default_factory=lambda: ["base"], max_length=1000)
    custom_scenarios: dict[CustomKey, CustomScenario] = Field(default_factory=dict,
                                                               max_length=1000)
    run_parallel: bool = True
    max_workers: int | None = Field(default=None, ge=1, le=64)
    include_cashflows: bool = False
    generate_report: bool = True


class ResponseMetrics(BaseModel):
    """A scenario's ``metrics``: the keys the original API documents, and the engine's others
    (losses, default and prepayment totals, …).

    npv, total_principal, total_interest and npv_change in currency units; irr annual,
    decimal; duration (modified) and weighted_average_life in years; npv_change_percent in
    percent. A figure that cannot be computed (an IRR with no sign change) is null.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    npv: float | None = None
    irr: float | None = None
    total_principal: float | None = None
    total_interest: float | None = None
    duration: float | None = None
    weighted_average_life: float | None = None
    npv_change: float | None = None
    npv_change_percent: float | None = None


class ScenarioEntry(BaseModel):
    """One scenario of the response: ``analytics.scenario`` is ``{name, description,
    market_factors}``; base's ``analytics.stress_test_report`` (when asked for) holds
    execution_time_total, scenarios_count, scenarios_success, scenarios_failed, base_case and
    scenarios."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pool_name: str
    analysis_date: date
    status: Literal["success", "error"]
    execution_time: float = Field(description="Seconds.")
    metrics: ResponseMetrics
    analytics: dict[str, Any]
    cache_hit: bool
    error: str | None = None
    valuation: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None
    cashflows: list[dict[str, Any]] | None = None


class StressTestResponse(RootModel[dict[str, ScenarioEntry]]):
    """The response: scenario key → :class:`ScenarioEntry`, base first."""


class ScenarioInfo(BaseModel):
    """A library scenario: ``{name, description, market_factors}`` (every factor, neutral
    ones included; rates annual decimal, multipliers plain)."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    market_factors: dict[str, Any]

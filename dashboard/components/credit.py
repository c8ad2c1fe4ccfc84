"""The credit pages' engine calls: cached workflow reads, the upload preview, pool saves and
deletes, request building, and the downloads of a stored run.

Every number comes from :mod:`engine.credit.workflow`; these functions fetch and cache it.
Cached calls take ids and plain values (each call opens its own short session through
:func:`dashboard.state.store`). Stored runs never change, so a run and what is derived from it
are cached by run id; pools are cached by id and those caches are cleared whenever the app
saves or deletes a pool. Lists (pools, runs, scenarios) are never cached: another process may
add to them, and they are cheap to read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import PurePosixPath
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import state
from engine.credit import FACTOR_HELP, FACTOR_RANGES, PoolData, Scenario
from engine.credit._views import (
    COMPARED_METRICS,
    loan_level_by,
    metrics_against_base,
    scenario_factor_table,
    scenarios_to_json,
    top_loans,
)
from engine.credit.workflow import (
    ImportPoolRequest,
    PoolImported,
    StressRun,
    StressRunRequest,
    TreasuryCurveView,
    assumption_table,
    curve_dates,
    delete_pool,
    detect_format,
    load_pool,
    load_run,
    parse_mapping,
    pool_breakdown,
    pool_summary,
    read_pool,
    save_pool,
    treasury_curve,
)
from engine.credit.workflow import loan_path as _loan_path
from engine.display import pct
from engine.export import to_parquet, to_safe_csv
from engine.ingest import VALUE_FIELDS

__all__ = [
    "UPLOAD_TYPES", "VALUE_FIELDS", "cached_pool", "cached_summary", "cached_breakdown",
    "cached_run", "cached_assumptions", "results_table", "run_cashflows", "loan_path",
    "detect_upload_format", "read_upload", "store_pool", "remove_pool", "stress_request",
    "metrics_csv", "cashflows_csv", "cashflows_parquet", "loan_level_csv", "loan_level_parquet",
    "response_json", "curve_bounds", "cached_curve",
    "loan_level_by", "top_loans", "scenario_factor_table", "scenarios_to_json",
    "FIELD_NAMES", "source_name", "assumptions_view", "loan_columns",
    "FACTORS", "NEUTRAL", "factor_help", "factors_to_form", "factors_from_form", "library_table",
    "factor_guide", "fed_translation_view",
]

#: File types the pool upload accepts (".gz" for a gzip-compressed CSV).
UPLOAD_TYPES = ["csv", "gz", "parquet", "json", "xlsx"]


# --------------------------------------------------------------------------- pools

@st.cache_data(max_entries=8, show_spinner=False)
def cached_pool(pool_id: str) -> PoolData:
    """A stored pool (cleared when the app saves or deletes a pool).

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    return load_pool(pool_id, store=state.store())


@st.cache_data(max_entries=16, show_spinner=False)
def cached_summary(pool_id: str) -> dict[str, Any]:
    """:func:`engine.credit.workflow.pool_summary` of a stored pool."""
    return pool_summary(pool_id, store=state.store())


@st.cache_data(max_entries=64, show_spinner=False)
def cached_breakdown(pool_id: str, by: str) -> pd.DataFrame:
    """:func:`engine.credit.workflow.pool_breakdown` of a stored pool by ``by``."""
    return pool_breakdown(pool_id, by=by, store=state.store())


@st.cache_data(max_entries=1, show_spinner=False)
def cached_assumptions() -> pd.DataFrame:
    """The packaged assumption table: asset_class, grade, the value fields and their sources."""
    return assumption_table()


@st.cache_data(max_entries=4, show_spinner=False)
def detect_upload_format(content: bytes, filename: str) -> str:
    """The tape layout recognised from an upload's header.

    Raises
    ------
    InputError
        When no layout fits the header.
    """
    return detect_format(content, filename=filename)


def _edits(edited: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    """The edited assumption rows as plain records (a missing grade or an emptied cell as None)."""
    if edited is None:
        return None
    rows = edited[["asset_class", "grade", *VALUE_FIELDS]].astype(object)
    return rows.where(rows.notna(), None).to_dict("records")


@st.cache_data(max_entries=4, show_spinner=False)
def read_upload(content: bytes, filename: str, *, fmt: str, pool_id: str | None,
                pool_name: str | None, cutoff_date: date | None,
                edited_assumptions: pd.DataFrame | None, mapping_body: str | None = None,
                bad_rows: str = "refuse") -> PoolData:
    """Read, map and validate an upload with the (possibly edited) assumption table; store nothing.

    Parameters
    ----------
    content, filename : bytes, str
        The uploaded file and its name (the name's suffix tells the reader).
    fmt : {"auto", "native", "lendingclub", "loan-record"}
        The tape layout.
    pool_id, pool_name : str or None
        Empty means the reader's default.
    cutoff_date : date or None
        The date balances and ages refer to.
    edited_assumptions : DataFrame or None
        The assumption table as edited in the app (asset_class, grade and the value fields);
        values that differ from the packaged table override it for this upload.
    mapping_body : str or None
        A column mapping as JSON (:func:`engine.credit.workflow.mapping_json`), applied in
        place of a known layout.
    bad_rows : {"refuse", "quarantine"}
        Refuse the tape over one bad row (default), or keep the bad rows apart with the pool.

    Raises
    ------
    ValidationError, InputError
        As :func:`engine.credit.workflow.read_pool`, an edited assumption out of range, or a
        setting the request refuses.
    """
    request = ImportPoolRequest.build(
        content=content, filename=filename, format=fmt, pool_id=pool_id or None,
        pool_name=pool_name or None, cutoff_date=cutoff_date,
        assumption_edits=_edits(edited_assumptions),
        mapping=parse_mapping(mapping_body) if mapping_body else None, bad_rows=bad_rows)
    return read_pool(request)


def _clear_pool_caches() -> None:
    cached_pool.clear()
    cached_summary.clear()
    cached_breakdown.clear()
    loan_path.clear()


def store_pool(pool: PoolData, *, source_file: str | None) -> PoolImported:
    """Save a validated pool (the upload preview) and forget the cached pools.

    Raises
    ------
    InputError
        If another pool with other content is stored under the same id.
    """
    try:
        return save_pool(pool, source_file=source_file, store=state.store())
    finally:
        _clear_pool_caches()


def remove_pool(pool_id: str) -> None:
    """Delete a stored pool (its runs stay readable) and forget the cached pools.

    Raises
    ------
    NotFoundError
        If no pool has this id.
    """
    try:
        delete_pool(pool_id, store=state.store())
    finally:
        _clear_pool_caches()


# --------------------------------------------------------------------------- pools, for reading

#: Reader names of the behavioural fields of a tape and of the assumption table.
FIELD_NAMES: dict[str, str] = {
    "prepayment_speed": "CPR (annual)",
    "default_probability": "CDR (annual)",
    "delinquent_default_probability": "CDR if delinquent (annual)",
    "recovery_rate": "Recovery rate",
    "recovery_lag": "Recovery lag (months)",
    "loss_severity": "Loss severity",
}

#: The sources of ``engine/ingest/data/ASSUMPTIONS.md`` by key, as a reader names them.
_SOURCE_NAMES: dict[str, str] = {
    "fed-nco-2024q2": "Federal Reserve charge-off rates, 2024 Q2",
    "psa-100": "PSA prepayment benchmark (100% PSA)",
    "sp-auto-abs": "S&P auto loan ABS performance",
    "auto-abs-speed": "Auto ABS prepayment speed (1.0% ABS)",
    "lc-tape-prepay": "Measured on the Lending Club tape",
    "kbra-mpl-2023": "KBRA marketplace loan ABS indices, March 2023",
    "lc-recoveries": "Lending Club recoveries (rounded judgement)",
    "lc-grace-cure": "Lending Club grace-period cure rates (judgement)",
    "gls-sba-2011": "SBA loan CPR report, Government Loan Solutions 2011",
    "moodys-urd-2007": "Moody's Ultimate Recovery Database, 2007",
    "judgemental-rmbs-cdr": "Judgement: residential mortgage CDR",
    "judgemental-rmbs-recovery": "Judgement: residential mortgage recovery",
    "judgemental-cmbs-prepay": "Judgement: commercial mortgage CPR",
    "judgemental-cmbs-recovery": "Judgement: commercial mortgage recovery",
    "judgemental-student": "Judgement: student loans",
    "judgemental-card-prepay": "Judgement: credit card CPR",
    "judgemental-card-recovery": "Judgement: credit card recovery",
    "judgemental-lc-grade-ladder": "Judgement: CDR ladder by Lending Club grade",
    "judgemental-delinquent": "Judgement: CDR of delinquent loans",
    "judgemental-lag": "Judgement: recovery lag",
}


def source_name(source: str | None) -> str:
    """An assumption's source as a reader names it, never a file path.

    ``engine/ingest/data/ASSUMPTIONS.md#lc-tape-prepay`` reads "Measured on the Lending Club
    tape"; an unknown key of ASSUMPTIONS.md reads as its words ("my-figure" → "My figure"); a
    user's file reads as its file name without folders; other text (such as "edited in the
    app") is kept, with a capital first letter; None reads "–".
    """
    if source is None or source != source:  # None or NaN
        return "–"
    text = str(source).strip()
    if "#" in text:
        key = text.rsplit("#", 1)[1]
        if key in _SOURCE_NAMES:
            return _SOURCE_NAMES[key]
        words = key.replace("-", " ").replace("_", " ").strip()
        return words[:1].upper() + words[1:]
    if "/" in text or "\\" in text:
        return PurePosixPath(text.replace("\\", "/")).name
    return text[:1].upper() + text[1:]


def _assumption_value(field: str, value: Any) -> str:
    if value is None or value != value:
        return "–"
    if field == "recovery_lag":
        return f"{int(value)} months"
    return pct(float(value), digits=2)


def assumptions_view(records: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """The assumptions a pool got, for reading: one row per value filled in.

    Parameters
    ----------
    records : list of dict or DataFrame
        :attr:`PoolData.assumptions`: field, basis, asset_class, grade, value, source, n_assets.

    Returns
    -------
    DataFrame
        Columns "Assumption" (the reader's name of the basis: "CPR (annual)", "CDR if
        delinquent (annual)", …), "Asset class", "Grade" ("any" when none), "Loans", "Value"
        (rates as percentages "12.70%", lags as "6 months") and "Source" (:func:`source_name`).
    """
    frame = pd.DataFrame(records)
    columns = ["Assumption", "Asset class", "Grade", "Loans", "Value", "Source"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    basis = frame["basis"] if "basis" in frame else frame["field"]
    return pd.DataFrame({
        "Assumption": [FIELD_NAMES.get(b, b) for b in basis],
        "Asset class": [str(c).replace("_", " ").capitalize() for c in frame["asset_class"]],
        "Grade": [g if isinstance(g, str) and g else "any" for g in frame["grade"]],
        "Loans": frame["n_assets"].astype("int64"),
        "Value": [_assumption_value(f, v) for f, v in zip(frame["field"], frame["value"],
                                                          strict=True)],
        "Source": [source_name(x) for x in frame["source"]],
    }, columns=columns)


def loan_columns() -> dict[str, Any]:
    """``column_config`` of a pool's loan table: amounts in USD, rates as percentages, terms in
    months, every header a reader's name with help text."""
    col = st.column_config
    rate = "percent"
    return {
        "asset_id": col.TextColumn("Loan id"),
        "asset_class": col.TextColumn("Asset class"),
        "balance": col.NumberColumn("Balance (USD)", format="$%,.2f"),
        "rate": col.NumberColumn("Rate (annual)", format=rate, help="The loan's note rate."),
        "term": col.NumberColumn("Term (months)", format="%d"),
        "age": col.NumberColumn("Age (months)", format="%d",
                                help="Months since origination at the cutoff date."),
        "original_balance": col.NumberColumn("Original balance (USD)", format="$%,.2f"),
        "rate_type": col.TextColumn("Rate type"),
        "prepayment_speed": col.NumberColumn(
            "CPR (annual)", format=rate,
            help="Conditional prepayment rate: the annualised share of balance prepaid."),
        "default_probability": col.NumberColumn(
            "CDR (annual)", format=rate,
            help="Conditional default rate: the annualised share of balance defaulting."),
        "recovery_rate": col.NumberColumn("Recovery rate", format=rate,
                                          help="The share of a defaulted balance recovered."),
        "loss_severity": col.NumberColumn("Loss severity", format=rate,
                                          help="The share of a defaulted balance lost."),
        "status": col.TextColumn("Status"),
        "grade": col.TextColumn("Grade"),
        "recovery_lag": col.NumberColumn("Recovery lag (months)", format="%d",
                                         help="Months from default to recovery."),
    }


# --------------------------------------------------------------------------- scenarios, for reading

#: Each market factor's reader name, the unit the form and tables show it in, and the scale
#: from the engine's unit (decimal) to it: rates and spreads in percentage points, multipliers ×.
FACTORS: dict[str, tuple[str, str, float]] = {
    "interest_rate_shock": ("Interest-rate shock", "pp", 100.0),
    "discount_rate_shock": ("Discount-rate shock", "pp", 100.0),
    "default_multiplier": ("Default multiplier", "×", 1.0),
    "recovery_multiplier": ("Recovery multiplier", "×", 1.0),
    "prepayment_multiplier": ("Prepayment multiplier", "×", 1.0),
    "spread_widening": ("Spread widening", "pp", 100.0),
}
#: Each factor's neutral value in the engine's unit (a factor at it changes nothing).
NEUTRAL: dict[str, float] = {"interest_rate_shock": 0.0, "discount_rate_shock": 0.0,
                             "default_multiplier": 1.0, "recovery_multiplier": 1.0,
                             "prepayment_multiplier": 1.0, "spread_widening": 0.0}

_FACTOR_WORDS: dict[str, str] = {
    "interest_rate_shock": "A parallel move in rates, in percentage points (3 = +300bp). Moves "
                           "floating-rate coupons (floored at 0) and the discount yield.",
    "discount_rate_shock": "An extra move of the discount yield only, in percentage points.",
    "spread_widening": "A credit spread added to the discount yield, in percentage points "
                       "(5 = +500bp).",
}


def factor_help(factor: str) -> str:
    """Help text of a factor in the form's unit: what it does, its valid range, its neutral."""
    _, unit, scale = FACTORS[factor]
    lo, hi = FACTOR_RANGES[factor]
    words = _FACTOR_WORDS.get(factor, FACTOR_HELP[factor])
    unit_text = " pp" if unit == "pp" else "×"
    return (f"{words} Valid range {lo * scale:g} … {hi * scale:g}{unit_text}; neutral "
            f"{NEUTRAL[factor] * scale:g}{unit_text}.")


def factors_to_form(factors: Mapping[str, float]) -> dict[str, float]:
    """Factors in the engine's unit (decimal rates) as the form shows them (rates in pp)."""
    return {f: round(float(v) * FACTORS[f][2], 8) for f, v in factors.items()}


def factors_from_form(values: Mapping[str, float]) -> dict[str, float]:
    """Factors as typed in the form (rates in pp) in the engine's unit (decimal rates)."""
    return {f: round(float(v) / FACTORS[f][2], 10) for f, v in values.items()}


def library_table(library: Mapping[str, Scenario]) -> pd.DataFrame:
    """:func:`scenario_factor_table` with each rate factor in percentage points (0.03 → 3.0);
    columns key, name, source, description, then the six factors."""
    table = scenario_factor_table(dict(library))
    for f, (_, _, scale) in FACTORS.items():
        table[f] = table[f].astype("float64") * scale
    return table


def factor_guide() -> pd.DataFrame:
    """One row per factor: "Factor", "Unit", "Valid range", "Neutral", "Meaning" (form units)."""
    rows = []
    for f, (name, unit, scale) in FACTORS.items():
        lo, hi = FACTOR_RANGES[f]
        rows.append({"Factor": name, "Unit": "percentage points" if unit == "pp" else "multiplier",
                     "Valid range": f"{lo * scale:g} … {hi * scale:g}",
                     "Neutral": f"{NEUTRAL[f] * scale:g}",
                     "Meaning": _FACTOR_WORDS.get(f, FACTOR_HELP[f])})
    return pd.DataFrame(rows)


def _factor_text(factor: str, value: float) -> str:
    _, unit, scale = FACTORS[factor]
    return f"{value * scale:+.2f} pp" if unit == "pp" else f"{value:.2f}×"


def fed_translation_view(translations: Mapping[str, Any]) -> pd.DataFrame:
    """The Federal Reserve translation as a reader checks it: one row per figure read from the
    Board's tables, then one per factor it gave; one column per scenario.

    Parameters
    ----------
    translations : mapping of key to FedTranslation
        :func:`engine.credit.fed_translations` (figures in percent, or index points for the
        House Price Index).

    Returns
    -------
    DataFrame
        Column "Figure", then each scenario's name; cells are text ("4.10%", "-0.60 pp",
        "1.05×").
    """
    rows: list[tuple[str, Any]] = [
        ("Jump-off quarter", lambda t: t.jump_off_quarter),
        ("Projection horizon", lambda t: t.horizon),
        ("5-year Treasury yield at jump-off", lambda t: f"{t.treasury_5y_jump_off:.2f}%"),
        ("5-year Treasury yield, largest move", lambda t: f"{t.treasury_5y_peak_move_pp:+.2f} pp"),
        ("Unemployment rate at jump-off", lambda t: f"{t.unemployment_jump_off:.1f}%"),
        ("Unemployment rate, peak", lambda t: f"{t.unemployment_peak:.1f}%"),
        ("House Price Index at jump-off", lambda t: f"{t.house_price_jump_off:,.1f}"),
        ("House Price Index, trough", lambda t: f"{t.house_price_trough:,.1f}"),
        ("BBB spread at jump-off", lambda t: f"{t.bbb_spread_jump_off_pp:.2f} pp"),
        ("BBB spread, peak", lambda t: f"{t.bbb_spread_peak_pp:.2f} pp"),
        *((f"→ {FACTORS[f][0]}",
           (lambda t, f=f: _factor_text(f, getattr(t.market_factors, f)))) for f in FACTORS),
    ]
    data: dict[str, list[str]] = {"Figure": [name for name, _ in rows]}
    for t in translations.values():
        data[t.scenario] = [str(get(t)) for _, get in rows]
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- runs

def stress_request(**fields: Any) -> StressRunRequest:
    """A :class:`StressRunRequest` from the page's settings (``source="app"`` unless given).

    Raises
    ------
    ValidationError
        If a setting is outside what the request accepts (every offending field listed).
    """
    fields.setdefault("source", "app")
    return StressRunRequest.build(**fields)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_run(run_id: str) -> StressRun:
    """A stored run read back without recomputing (runs never change once stored).

    Raises
    ------
    NotFoundError
        If no credit run has this id, or it failed and stored no results.
    """
    return load_run(run_id, store=state.store())


#: The residual's metrics, compared with the base case as the others are.
_RESIDUAL_METRICS = ("residual_share", "residual_value", "loss_beyond_horizon")


@st.cache_data(max_entries=16, show_spinner=False)
def results_table(run_id: str) -> pd.DataFrame:
    """A stored run's metrics per scenario and their change from the base case, base first
    (with the residual at the horizon: residual_share, residual_value, loss_beyond_horizon)."""
    return metrics_against_base(cached_run(run_id).result.metrics_frame(),
                                compared=(*COMPARED_METRICS, *_RESIDUAL_METRICS))


@st.cache_data(max_entries=8, show_spinner=False)
def run_cashflows(run_id: str) -> pd.DataFrame:
    """A stored run's pool cashflows, long form (scenario, period, cashflow columns; USD/month)."""
    return cached_run(run_id).result.cashflows_frame()


@st.cache_data(max_entries=32, show_spinner=False)
def loan_path(run_id: str, asset_id: str, scenario_key: str) -> pd.DataFrame:
    """One loan's monthly path under a stored run's scenario (closed form, no stress rerun).

    Raises
    ------
    NotFoundError
        If the run's pool is no longer stored, or the loan is not in it.
    """
    return _loan_path(run_id, asset_id=asset_id, scenario_key=scenario_key, store=state.store())


# --------------------------------------------------------------------------- the Treasury curve

def curve_bounds() -> tuple[date, date]:
    """The first and last dates of the Treasury par yield file (the curve-date picker's range)."""
    return curve_dates()


@st.cache_data(max_entries=16, show_spinner=False)
def cached_curve(curve_date: date, spread: float) -> TreasuryCurveView:
    """:func:`engine.credit.workflow.treasury_curve` of ``curve_date`` with ``spread`` (annual
    decimal).

    Raises
    ------
    InputError
        If ``curve_date`` is outside the file (:func:`curve_bounds`).
    """
    return treasury_curve(curve_date, spread=spread)


# --------------------------------------------------------------------------- downloads
# Every download carries the run's provenance (StressTestResult.provenance: run id, pool,
# analysis date, discounting, horizon, engine version, inputs hash, units): a "# key: value"
# header block in CSV, file metadata in Parquet, "provenance" in the base entry of the JSON.

@st.cache_data(max_entries=8, show_spinner=False)
def metrics_csv(run_id: str) -> bytes:
    """A stored run's metrics per scenario as CSV (cells that could run as formulas escaped),
    its provenance in a header block."""
    result = cached_run(run_id).result
    return to_safe_csv(result.metrics_frame(), provenance=result.provenance())


@st.cache_data(max_entries=4, show_spinner=False)
def cashflows_csv(run_id: str) -> bytes:
    """A stored run's cashflows as CSV, its provenance in a header block."""
    return to_safe_csv(run_cashflows(run_id), provenance=cached_run(run_id).result.provenance())


@st.cache_data(max_entries=4, show_spinner=False)
def cashflows_parquet(run_id: str) -> bytes:
    """A stored run's cashflows as Parquet, its provenance in the file metadata."""
    return to_parquet(run_cashflows(run_id), provenance=cached_run(run_id).result.provenance())


@st.cache_data(max_entries=4, show_spinner=False)
def loan_level_csv(run_id: str) -> bytes:
    """A stored run's loan-level results (one row per loan and scenario) as CSV, its provenance
    in a header block (no rows when the run kept none)."""
    result = cached_run(run_id).result
    return to_safe_csv(result.loan_level_frame(), provenance=result.provenance())


@st.cache_data(max_entries=4, show_spinner=False)
def loan_level_parquet(run_id: str) -> bytes:
    """A stored run's loan-level results as Parquet, its provenance in the file metadata (no
    rows when the run kept none)."""
    result = cached_run(run_id).result
    return to_parquet(result.loan_level_frame(), provenance=result.provenance())


@st.cache_data(max_entries=8, show_spinner=False)
def response_json(run_id: str) -> bytes:
    """The response JSON of ARCHITECTURE.md: scenario key → {pool_name, analysis_date, status,
    execution_time, metrics, analytics, cache_hit}; the base entry also holds the run's
    ``valuation`` and ``provenance``."""
    return cached_run(run_id).result.response_json(indent=2).encode("utf-8")

"""Column-wise validation of a mapped tape into the canonical frame of :data:`ASSET_COLUMNS`.

Every check is a vectorized mask over a whole column; every offending cell is logged (one
issue per cell, the first rule it breaks), and nothing stops at the first problem, so a user
fixes the whole file in one pass. Behavioural values left missing are filled afterwards from
the assumption table; everything else missing is an error.

Plausibility bounds (:mod:`engine.ingest.models`): ``term`` at most ``MAX_TERM_MONTHS`` (600
months), ``balance`` and ``original_balance`` at most ``MAX_BALANCE`` (1e10 currency units per
loan). A JSON ``true``/``false`` in a numeric column is refused, not read as 1.0/0.0.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from engine.ingest.models import (
    ASSET_COLUMNS,
    MAX_BALANCE,
    MAX_TERM_MONTHS,
    AssetClass,
    AssetStatus,
    RateType,
)

from ._issues import IssueLog

__all__ = ["validate_frame", "UNIT_COLUMNS", "RECOVERY_TOLERANCE"]

#: Columns that are decimals in [0, 1]; a column given in percent is detected and converted.
UNIT_COLUMNS: tuple[str, ...] = ("rate", "prepayment_speed", "default_probability", "recovery_rate",
                                 "loss_severity")
#: Tolerance on recovery_rate + loss_severity = 1 when a tape gives both.
RECOVERY_TOLERANCE = 1e-6

_CATEGORIES: dict[str, tuple[str, ...]] = {
    "asset_class": tuple(c.value for c in AssetClass),
    "rate_type": tuple(r.value for r in RateType),
    "status": tuple(s.value for s in AssetStatus),
}
_DEFAULTS = {"rate_type": RateType.FIXED.value, "status": AssetStatus.PERFORMING.value, "age": 0}
_OPTIONAL_NUMERIC = ("original_balance", "prepayment_speed", "default_probability", "recovery_rate",
                     "loss_severity", "recovery_lag")


def _percent_column(values: pd.Series) -> bool:
    """True when a column reads as percent: every value is 0 or in (1, 100], and one is above 1.

    A 0 means the same in both units; a value in (0, 1] beside values above 1 is ambiguous and is
    left for the range check to report.
    """
    v = values.dropna().to_numpy()
    if v.size == 0:
        return False
    ok = (v == 0) | ((v > 1) & (v <= 100))
    return bool(ok.all() and (v > 1).any())


def _by_unique(raw: pd.Series, transform) -> pd.Series:
    """Apply a string transform to each distinct value once and broadcast (columns of few values)."""
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    done = transform(pd.Series(uniques, dtype="string")).to_numpy(dtype=object)
    out = np.empty(len(raw), dtype=object)
    valid = codes >= 0
    out[valid] = done[codes[valid]]
    out[~valid] = None
    return pd.Series(out, index=raw.index, dtype="string")


def _category(raw: pd.Series, column: str, log: IssueLog) -> pd.Series:
    norm = _by_unique(raw, lambda s: s.astype("string").str.strip().str.lower()
                      .str.replace(r"[\s\-]+", "_", regex=True))
    valid = _CATEGORIES[column]
    log.add_mask(raw.isna().to_numpy(),
                 column=column, values=raw, rule=f"missing value; valid: {', '.join(valid)}")
    bad = ~norm.isin(valid).fillna(True)
    log.add_mask(bad.to_numpy(),
                 column=column, values=raw, rule=f"unknown {column}; valid: {', '.join(valid)}")
    return norm


def validate_frame(frame: pd.DataFrame, *, log: IssueLog, warnings: list[str],
                   explicit_units: Collection[str] = ()) -> pd.DataFrame:
    """Check a mapped tape column by column and build the canonical frame.

    Parameters
    ----------
    frame : DataFrame of shape (n_assets, k)
        Canonical column names (some may be absent), tape values (any dtype), rows in file
        order on a RangeIndex.
    log : IssueLog
        Receives every offending cell; the caller raises one ValidationError if it is not empty.
    warnings : list of str
        Receives every conversion made (percent columns, derived fields, defaults).
    explicit_units : collection of str, default ()
        Rate columns whose unit a column mapping stated (already converted to decimal): they
        are not read as percent by the all-values-in-(1, 100] rule, only range-checked.

    Returns
    -------
    DataFrame of shape (n_assets, len(ASSET_COLUMNS))
        Canonical columns and dtypes; behavioural columns (``prepayment_speed``,
        ``default_probability``, ``recovery_rate``, ``recovery_lag``, ``loss_severity``) may
        still hold NaN for the assumption fill. Meaningful only if ``log`` stayed empty.
    """
    n = len(frame)
    out = pd.DataFrame(index=frame.index)

    # asset_id: present, non-blank, unique.
    if "asset_id" in frame:
        raw = frame["asset_id"]
        ids = raw.astype("string").str.strip()
        log.add_mask((ids.isna() | (ids == "")).to_numpy(),
                     column="asset_id", values=raw, rule="missing asset_id")
        dup = ids.duplicated(keep=False) & ids.notna() & (ids != "")
        if dup.any():
            rows = pd.Series(np.arange(1, n + 1), index=frame.index)[dup]
            together = rows.groupby(ids[dup]).transform(lambda r: ", ".join(map(str, r)))
            for row, key_rows in zip(rows.to_numpy(), together.to_numpy()):
                log.add(int(row), column="asset_id", value=raw.iat[int(row) - 1],
                        rule=f"duplicate asset_id: the same id is on rows {key_rows}")
        out["asset_id"] = ids
    else:
        out["asset_id"] = pd.Series(pd.NA, index=frame.index, dtype="string")

    for column in ("asset_class", "rate_type", "status"):
        if column in frame:
            out[column] = _category(frame[column], column, log)
        elif column in _DEFAULTS:
            out[column] = pd.Series(_DEFAULTS[column], index=frame.index, dtype="string")
            warnings.append(f"No {column} column: every asset taken as {_DEFAULTS[column]}.")
        else:
            out[column] = pd.Series(pd.NA, index=frame.index, dtype="string")

    # Numeric columns: numbers, finite.
    numeric: dict[str, pd.Series] = {}
    for column in ("balance", "rate", "term", "age", *_OPTIONAL_NUMERIC):
        if column not in frame:
            continue
        raw = frame[column]
        if pd.api.types.is_bool_dtype(raw):
            num = pd.Series(np.nan, index=frame.index)
            log.add_mask(np.ones(n, dtype=bool), column=column, values=raw, rule="must be a number")
        else:
            num = pd.to_numeric(raw, errors="coerce").astype("float64")
            if raw.dtype == object:  # JSON true/false beside numbers: pandas would read 1.0/0.0
                flags = raw.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
                num = num.mask(flags)
                log.add_mask(flags, column=column, values=raw, rule="must be a number, not true/false")
            log.add_mask((num.isna() & raw.notna()).to_numpy(),
                         column=column, values=raw, rule="must be a number")
        inf = np.isinf(num.to_numpy())
        log.add_mask(inf, column=column, values=raw, rule="must be a finite number")
        num = num.mask(inf)
        if column not in _OPTIONAL_NUMERIC:
            log.add_mask(raw.isna().to_numpy(), column=column, values=raw, rule="missing value")
        numeric[column] = num
    raw_of = {c: frame[c] if c in frame else None for c in numeric}

    # Percent columns → decimals.
    for column in UNIT_COLUMNS:
        if column in numeric and column not in explicit_units and _percent_column(numeric[column]):
            numeric[column] = numeric[column] / 100.0
            warnings.append(f"Column {log.name(column)!r} read as percent (all values 0 or in (1, 100]); "
                            "divided by 100.")
        if column in numeric:
            bad = (numeric[column] < 0) | (numeric[column] > 1)
            log.add_mask(bad.to_numpy(), column=column, values=raw_of[column],
                         rule="must be a decimal in [0, 1] (annual, 0.05 = 5 %)")

    # recovery_rate / loss_severity: derive one from the other, or check they sum to 1.
    rec, sev = numeric.get("recovery_rate"), numeric.get("loss_severity")
    if rec is not None and sev is not None:
        both = rec.notna() & sev.notna()
        clash = both & ((rec + sev - 1.0).abs() > RECOVERY_TOLERANCE)
        log.add_mask(clash.to_numpy(), column="loss_severity", values=raw_of["loss_severity"],
                     rule="recovery_rate + loss_severity must equal 1 (give one, or both consistently)")
    if sev is not None:
        derive = sev.notna() & (rec.isna() if rec is not None else True)
        if bool(np.any(derive)):
            base = rec if rec is not None else pd.Series(np.nan, index=frame.index)
            numeric["recovery_rate"] = base.mask(derive, 1.0 - sev)
            warnings.append(f"recovery_rate derived as 1 - loss_severity for {int(np.sum(derive))} assets.")
    if rec is not None:
        sev_now = numeric.get("loss_severity", pd.Series(np.nan, index=frame.index))
        derive = rec.notna() & sev_now.isna()
        if derive.any():
            numeric["loss_severity"] = sev_now.mask(derive, 1.0 - rec)
            warnings.append(f"loss_severity derived as 1 - recovery_rate for {int(derive.sum())} assets.")

    # Integer month counts.
    for column in ("term", "age", "recovery_lag"):
        if column in numeric:
            v = numeric[column]
            log.add_mask((v.notna() & (v % 1 != 0)).to_numpy(),
                         column=column, values=raw_of[column],
                         rule="must be a whole number of months")
    if "term" in numeric:
        log.add_mask((numeric["term"] <= 0).to_numpy(),
                     column="term", values=raw_of["term"], rule="must be positive (months)")
        log.add_mask((numeric["term"] > MAX_TERM_MONTHS).to_numpy(), column="term",
                     values=raw_of["term"],
                     rule=f"must be at most {MAX_TERM_MONTHS} months (50 years); "
                          "check the unit (months, not days)")
    if "age" in numeric:
        log.add_mask((numeric["age"] < 0).to_numpy(),
                     column="age", values=raw_of["age"], rule="must be 0 or more (months)")
    else:
        warnings.append("No age column: every asset taken as new (age 0).")
        numeric["age"] = pd.Series(0.0, index=frame.index)
    if "term" in numeric:
        t, a = numeric["term"], numeric["age"]
        log.add_mask((t.notna() & a.notna() & (t <= a)).to_numpy(),
                     column="term", values=raw_of["term"],
                     rule="term must be above age (a loan past its term cannot be projected)")
    if "recovery_lag" in numeric:
        lag = numeric["recovery_lag"]
        log.add_mask(((lag < 0) | (lag > 120)).to_numpy(),
                     column="recovery_lag", values=raw_of["recovery_lag"],
                     rule="must lie in [0, 120] months")
    if "original_balance" in numeric:
        log.add_mask((numeric["original_balance"] <= 0).to_numpy(), column="original_balance",
                     values=raw_of["original_balance"], rule="must be positive (or left blank)")
        log.add_mask((numeric["original_balance"] > MAX_BALANCE).to_numpy(), column="original_balance",
                     values=raw_of["original_balance"],
                     rule=f"must be at most {MAX_BALANCE:.0e} per loan (currency units)")

    # balance: positive unless paid off (then 0 allowed).
    if "balance" in numeric:
        b = numeric["balance"]
        paid_off = (out["status"] == AssetStatus.PAID_OFF.value).fillna(False)
        bad = (b < 0) | ((b == 0) & ~paid_off)
        log.add_mask(bad.to_numpy(), column="balance", values=raw_of["balance"],
                     rule="balance must be positive unless status is paid_off (then 0 is allowed)")
        log.add_mask((b > MAX_BALANCE).to_numpy(), column="balance", values=raw_of["balance"],
                     rule=f"must be at most {MAX_BALANCE:.0e} per loan (currency units)")

    if "grade" in frame:
        g = _by_unique(frame["grade"], lambda s: s.str.strip().str.upper())
        out["grade"] = g.mask(g == "")
    else:
        out["grade"] = pd.Series(pd.NA, index=frame.index, dtype="string")

    result = pd.DataFrame(index=frame.index)
    for column, dtype in ASSET_COLUMNS.items():
        if column in out:
            result[column] = out[column].astype("string")
        elif column in numeric:
            v = numeric[column]
            if dtype == "int64" and column != "recovery_lag":
                result[column] = v.fillna(0).round().astype("int64") if not log else v
            else:
                result[column] = v.astype("float64")
        else:
            result[column] = pd.Series(np.nan, index=frame.index, dtype="float64")
    return result

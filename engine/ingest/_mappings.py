"""Mappings: a tape's own columns → the canonical columns of :data:`ASSET_COLUMNS`.

Three tape layouts are known (see :data:`FORMATS`):

``native``
    The canonical column names themselves (case and surrounding spaces ignored).
``lendingclub``
    The Lending Club loan tape of ``data/lendingclub_2018q1`` (OpenIntro ``loans_full_schema``).
``loan-record``
    A loan-record export with columns LoanId, CustomerId, LoanAmount, InterestRate,
    LoanStartDate, LoanMaturityDate, LoanType, RepaymentSchedule, CurrentBalance,
    DefaultRiskScore.

Each mapping is column-wise and reports what it could not map to the shared issue log; the
values it produces are then checked by :mod:`engine.ingest._validate` like any native tape.

Month counting (one convention for every reader that derives ``term`` or ``age`` from dates:
the loan-record layout and the user mappings of :mod:`engine.ingest._usermap`), in
:func:`whole_months`: whole calendar months from the earlier date to the later, floored (a
month counts once its day of the month is reached: 15 Jan → 14 Mar is 1), except that a later
date on the last day of its month completes the month (31 Jan → 28 Feb is 1, 31 Jan → 30 Jun
is 5).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from engine.ingest.models import ASSET_COLUMNS, REQUIRED_COLUMNS, AssetClass, AssetStatus
from engine.errors import InputError
from engine.limits import shorten

from ._issues import IssueLog

__all__ = [
    "FORMATS",
    "LC_DEFAULT_CUTOFF",
    "LC_STATUS",
    "LOAN_TYPE_TO_ASSET_CLASS",
    "MONTHLY_SCHEDULES",
    "Mapped",
    "detect_format",
    "map_tape",
    "whole_months",
]

#: Key columns by which each format is recognised from a header (case-insensitive).
FORMATS: dict[str, tuple[str, ...]] = {
    "native": ("asset_id", "asset_class", "balance", "rate", "term"),
    "lendingclub": ("loan_amount", "interest_rate", "term", "installment", "grade", "issue_month",
                    "loan_status", "balance"),
    "loan-record": ("LoanId", "LoanAmount", "InterestRate", "LoanStartDate", "LoanMaturityDate",
                    "LoanType", "RepaymentSchedule", "CurrentBalance"),
}
_MIN_SHARE = 0.6  # share of a format's key columns a header must carry to be recognised

#: Snapshot date assumed for the Lending Club tape (its own documentation gives none).
#: The modal number of payments implied by each loan's balance on its amortisation schedule is
#: 5 for loans issued in Jan-2018, 4 for Feb-2018 and 3 for Mar-2018 (first payment one month
#: after issue), i.e. payments through June 2018: the tape is an end-of-June 2018 snapshot.
LC_DEFAULT_CUTOFF = dt.date(2018, 6, 30)
LC_CUTOFF_REASON = (
    "Lending Club tape snapshot date is undocumented; 2018-06-30 assumed: on each loan's amortisation "
    "schedule, balance vs loan_amount implies 5/4/3 monthly payments (modal) for loans issued "
    "Jan/Feb/Mar-2018, i.e. payments made through June 2018."
)

#: Lending Club loan_status → canonical status.
LC_STATUS: dict[str, str] = {
    "Current": AssetStatus.PERFORMING.value,
    "Fully Paid": AssetStatus.PAID_OFF.value,
    "In Grace Period": AssetStatus.DELINQUENT.value,
    "Late (16-30 days)": AssetStatus.DELINQUENT.value,
    "Late (31-120 days)": AssetStatus.DELINQUENT.value,
    "Default": AssetStatus.DEFAULT.value,
    "Charged Off": AssetStatus.DEFAULT.value,
}

#: loan-record LoanType (lower case, ``_``/``-`` read as spaces) → asset class.
LOAN_TYPE_TO_ASSET_CLASS: dict[str, str] = {
    "mortgage": "residential_mortgage", "home loan": "residential_mortgage",
    "residential mortgage": "residential_mortgage", "home equity": "residential_mortgage",
    "commercial mortgage": "commercial_mortgage", "commercial real estate": "commercial_mortgage",
    "cre": "commercial_mortgage",
    "auto": "auto_loan", "auto loan": "auto_loan", "car loan": "auto_loan", "vehicle": "auto_loan",
    "personal": "consumer_loan", "personal loan": "consumer_loan", "consumer": "consumer_loan",
    "consumer loan": "consumer_loan",
    "student": "student_loan", "student loan": "student_loan", "education": "student_loan",
    "credit card": "credit_card", "card": "credit_card",
    "business": "sme_loan", "business loan": "sme_loan", "sme": "sme_loan", "sme loan": "sme_loan",
    "small business": "sme_loan",
}
#: loan-record RepaymentSchedule values accepted as monthly amortising (lower case, spaces).
MONTHLY_SCHEDULES: frozenset[str] = frozenset({
    "monthly", "monthly amortizing", "monthly amortising", "amortizing", "amortising",
    "monthly amortization", "monthly amortisation",
})


@dataclass
class Mapped:
    """A tape mapped to canonical columns (some possibly absent), with what the mapping learned."""

    frame: pd.DataFrame
    format: str
    cutoff_date: dt.date | None
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


def _norm(name: str) -> str:
    return str(name).strip().lower()


def detect_format(columns: Iterable[str]) -> str:
    """Recognise a tape's layout from its header.

    Parameters
    ----------
    columns : iterable of str
        The column names of the tape (case and surrounding spaces are ignored).

    Returns
    -------
    str
        ``"native"``, ``"lendingclub"`` or ``"loan-record"``: the format whose key columns
        (:data:`FORMATS`) the header carries the largest share of, at least 60 %.

    Raises
    ------
    InputError
        If no format reaches 60 % of its key columns, or two tie; the message names every
        format and its key columns.
    """
    have = {_norm(c) for c in columns}
    shares = {fmt: sum(_norm(k) in have for k in keys) / len(keys) for fmt, keys in FORMATS.items()}
    best = max(shares.values())
    winners = [fmt for fmt, s in shares.items() if s == best]
    if best < _MIN_SHARE or len(winners) > 1:
        listing = "; ".join(f"{fmt}: {', '.join(keys)}" for fmt, keys in FORMATS.items())
        raise InputError(
            "Could not recognise the tape's format from its header. Known formats and their key "
            f"columns — {listing}. Rename the columns to one of these layouts, choose the format "
            "explicitly, or map the columns with a column mapping (--mapping on the command "
            "line, Map columns in the app)."
        )
    return winners[0]


def _columns(frame: pd.DataFrame, wanted: Iterable[str], log: IssueLog, fmt: str) -> dict[str, str]:
    """Actual column name for each wanted one (case-insensitive); log the missing ones."""
    lookup = {_norm(c): c for c in frame.columns}
    found = {}
    for w in wanted:
        actual = lookup.get(_norm(w))
        if actual is None:
            log.add(None, column=w, value=None, rule=f"required column of the {fmt} format missing")
        else:
            found[w] = actual
    return found


def _numeric(raw: pd.Series, column: str, log: IssueLog) -> pd.Series:
    """float64 column; non-numeric cells are logged and become NaN."""
    num = pd.to_numeric(raw, errors="coerce").astype("float64")
    bad = num.isna() & raw.notna()
    if bad.any():
        log.add_mask(bad.to_numpy(), column=column, values=raw, rule="must be a number")
    return num


def whole_months(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Whole calendar months from ``start`` to ``end``, by the module's month-counting rule.

    Parameters
    ----------
    start, end : datetime64 Series of shape (n,)

    Returns
    -------
    ndarray of shape (n,), float64
        Months, floored (a month counts once its day of the month is reached: 15 Jan → 14 Mar
        is 1), except that an ``end`` on the last day of its month completes the month
        (31 Jan → 28 Feb is 1). NaN where a date is missing. Negative when ``end`` is earlier.
    """
    months = (end.dt.year - start.dt.year) * 12 + (end.dt.month - start.dt.month)
    short = (end.dt.day < start.dt.day) & ~end.dt.is_month_end
    months = months - short.astype("float64")
    return months.to_numpy(dtype="float64", na_value=np.nan)


def _map_native(frame: pd.DataFrame, cutoff: dt.date | None, log: IssueLog) -> Mapped:
    lookup: dict[str, str] = {}
    extra: list[str] = []
    for c in frame.columns:
        key = _norm(c)
        if key in ASSET_COLUMNS and key not in lookup:
            lookup[key] = c
        else:
            extra.append(c)
    out = pd.DataFrame({canon: frame[actual] for canon, actual in lookup.items()}, index=frame.index)
    log.source_names.update({k: v for k, v in lookup.items() if k != v})
    warnings = []
    if extra:
        warnings.append(f"Columns not in the canonical schema were ignored: {', '.join(map(str, extra))}.")
    return Mapped(out, "native", cutoff, warnings, {"ignored_columns": list(map(str, extra))})


def _map_lendingclub(frame: pd.DataFrame, cutoff: dt.date | None, log: IssueLog) -> Mapped:
    cols = _columns(frame, ("loan_amount", "interest_rate", "term", "grade", "issue_month",
                            "loan_status", "balance"), log, "lendingclub")
    n = len(frame)
    warnings: list[str] = []
    metadata: dict[str, Any] = {}
    if cutoff is None:
        cutoff = LC_DEFAULT_CUTOFF
        warnings.append(LC_CUTOFF_REASON)
        metadata["cutoff_date_reason"] = LC_CUTOFF_REASON
    width = max(5, len(str(n)))
    out = pd.DataFrame(index=frame.index)
    out["asset_id"] = pd.array([f"LC-{i:0{width}d}" for i in range(1, n + 1)], dtype="string")
    note = (f"The Lending Club tape has no loan id: asset_id was generated from the data row number "
            f"(LC-{1:0{width}d} = row 1).")
    warnings.append(note)
    metadata["asset_id_note"] = note
    out["asset_class"] = AssetClass.CONSUMER_LOAN.value
    out["rate_type"] = "fixed"
    log.source_names.update({"rate": "interest_rate", "original_balance": "loan_amount",
                             "status": "loan_status", "age": "issue_month"})
    if "loan_amount" in cols:
        out["original_balance"] = _numeric(frame[cols["loan_amount"]], "original_balance", log)
    if "interest_rate" in cols:
        out["rate"] = _numeric(frame[cols["interest_rate"]], "rate", log) / 100.0  # tape is in percent
    if "term" in cols:
        out["term"] = frame[cols["term"]]
    if "balance" in cols:
        out["balance"] = frame[cols["balance"]]
    if "grade" in cols:
        out["grade"] = frame[cols["grade"]]
    if "issue_month" in cols:
        raw = frame[cols["issue_month"]]
        issued = pd.to_datetime(raw.astype("string").str.strip(), format="%b-%Y", errors="coerce")
        log.add_mask((issued.isna() & raw.notna()).to_numpy(), column="age", values=raw,
                     rule="issue_month must be a month like 'Mar-2018'")
        log.add_mask(raw.isna().to_numpy(), column="age", values=raw, rule="issue_month missing")
        age = (cutoff.year - issued.dt.year) * 12 + (cutoff.month - issued.dt.month)
        log.add_mask((age < 0).fillna(False).to_numpy(), column="age", values=raw,
                     rule=f"issue_month is after the cutoff date {cutoff.isoformat()}")
        out["age"] = age.astype("float64")
    if "loan_status" in cols:
        raw = frame[cols["loan_status"]]
        metadata["tape_status_counts"] = {str(k): int(v) for k, v in raw.value_counts(dropna=False).items()}
        status = raw.astype("string").str.strip().map(LC_STATUS)
        log.add_mask(status.isna().to_numpy(), column="status", values=raw,
                     rule=f"unknown loan_status; valid: {', '.join(LC_STATUS)}")
        out["status"] = status.astype("string")
        paid_col = next((c for c in frame.columns if _norm(c) == "paid_principal"), None)
        if "balance" in cols and "loan_amount" in cols and paid_col is not None:
            bal = pd.to_numeric(frame[cols["balance"]], errors="coerce")
            amount = out["original_balance"]
            paid = pd.to_numeric(frame[paid_col], errors="coerce")
            charged = (out["status"] == AssetStatus.DEFAULT.value).fillna(False) & (bal == 0)
            if charged.any():
                exposure = (amount - paid.fillna(0.0))[charged]
                out["balance"] = out["balance"].astype("float64").mask(charged, amount - paid.fillna(0.0))
                msg = (f"{int(charged.sum())} Charged Off loans carry balance 0 on the tape (written off); "
                       f"their balance is set to the charged-off principal loan_amount - paid_principal "
                       f"(total {exposure.sum():,.2f}) so the engine can model their recoveries.")
                warnings.append(msg)
                metadata["charged_off_principal"] = float(exposure.sum())
            repaid = ((out["status"] != AssetStatus.PAID_OFF.value).fillna(False) & ~charged
                      & (bal == 0) & (paid >= amount))
            if repaid.any():
                rows = (np.flatnonzero(repaid.to_numpy()) + 1).tolist()
                out["status"] = out["status"].mask(repaid, AssetStatus.PAID_OFF.value)
                warnings.append(f"{len(rows)} loans with a live loan_status have balance 0 and "
                                f"paid_principal = loan_amount; mapped to paid_off (rows {rows[:20]}).")
    metadata["mapping"] = "lendingclub: consumer_loan, fixed rate, interest_rate percent/100, age from issue_month"
    return Mapped(out, "lendingclub", cutoff, warnings, metadata)


def _map_loan_record(frame: pd.DataFrame, cutoff: dt.date | None, log: IssueLog) -> Mapped:
    if cutoff is None:
        raise InputError("A loan-record tape needs a cutoff_date (the date its CurrentBalance refers to): "
                         "loan age is counted from LoanStartDate to the cutoff date.")
    cols = _columns(frame, FORMATS["loan-record"], log, "loan-record")
    optional = {_norm(c): c for c in frame.columns}
    out = pd.DataFrame(index=frame.index)
    log.source_names.update({
        "asset_id": "LoanId", "original_balance": "LoanAmount", "rate": "InterestRate",
        "term": "LoanMaturityDate", "age": "LoanStartDate", "asset_class": "LoanType",
        "balance": "CurrentBalance", "default_probability": "DefaultRiskScore",
        "status": "CurrentBalance",
    })
    warnings = [
        "loan-record: rate_type taken as fixed for every loan (the tape has no rate type).",
        "loan-record: status taken as paid_off where CurrentBalance is 0, otherwise performing "
        "(the tape has no status).",
    ]
    if "LoanId" in cols:
        out["asset_id"] = frame[cols["LoanId"]]
    if "LoanAmount" in cols:
        out["original_balance"] = frame[cols["LoanAmount"]]
    if "InterestRate" in cols:
        out["rate"] = frame[cols["InterestRate"]]
    if "CurrentBalance" in cols:
        out["balance"] = frame[cols["CurrentBalance"]]
        bal = pd.to_numeric(frame[cols["CurrentBalance"]], errors="coerce")
        out["status"] = pd.Series(np.where(bal == 0, "paid_off", "performing"), index=frame.index,
                                  dtype="string")
    out["rate_type"] = "fixed"
    if "LoanStartDate" in cols and "LoanMaturityDate" in cols:
        raw_s, raw_m = frame[cols["LoanStartDate"]], frame[cols["LoanMaturityDate"]]
        start = pd.to_datetime(raw_s, errors="coerce")
        mature = pd.to_datetime(raw_m, errors="coerce")
        log.add_mask(start.isna().to_numpy(),
                     column="age", values=raw_s, rule="LoanStartDate must be a date (YYYY-MM-DD)")
        log.add_mask(mature.isna().to_numpy(),
                     column="term", values=raw_m,
                     rule="LoanMaturityDate must be a date (YYYY-MM-DD)")
        # term and age: whole months by the module's rule (:func:`whole_months`).
        term = pd.Series(whole_months(start, mature), index=frame.index)
        log.add_mask((mature <= start).fillna(False).to_numpy(), column="term", values=raw_m,
                     rule="LoanMaturityDate must be after LoanStartDate")
        out["term"] = term
        cut = pd.Series(pd.Timestamp(cutoff), index=frame.index)
        age = pd.Series(whole_months(start, cut), index=frame.index)
        log.add_mask((age < 0).to_numpy(), column="age", values=raw_s,
                     rule=f"LoanStartDate is after the cutoff date {cutoff.isoformat()}")
        out["age"] = age
    if "LoanType" in cols:
        raw = frame[cols["LoanType"]]
        key = raw.astype("string").str.strip().str.lower().str.replace(r"[_\-]+", " ", regex=True)
        mapped = key.map(LOAN_TYPE_TO_ASSET_CLASS).fillna(
            key.str.replace(" ", "_").where(key.str.replace(" ", "_").isin([c.value for c in AssetClass])))
        log.add_mask(mapped.isna().to_numpy(), column="asset_class", values=raw,
                     rule="unknown LoanType; valid: " + ", ".join(sorted(LOAN_TYPE_TO_ASSET_CLASS))
                     + " (or an asset class name)")
        out["asset_class"] = mapped.astype("string")
    if "RepaymentSchedule" in cols:
        raw = frame[cols["RepaymentSchedule"]]
        key = raw.astype("string").str.strip().str.lower().str.replace(r"[_\-]+", " ", regex=True)
        bad = ~key.isin(MONTHLY_SCHEDULES).fillna(False)
        log.add_mask(bad.to_numpy(), column="RepaymentSchedule", values=raw,
                     rule="only monthly amortising loans are modelled; valid: "
                     + ", ".join(sorted(MONTHLY_SCHEDULES)))
    if "defaultriskscore" in optional:
        out["default_probability"] = frame[optional["defaultriskscore"]]
    metadata: dict[str, Any] = {
        "mapping": "loan-record: term from LoanStartDate→LoanMaturityDate, age from LoanStartDate→cutoff, "
                   "LoanType→asset_class, DefaultRiskScore→default_probability (annual, decimal)",
    }
    if "customerid" in optional:
        metadata["n_customers"] = int(frame[optional["customerid"]].nunique())
    return Mapped(out, "loan-record", cutoff, warnings, metadata)


_MAPPERS: dict[str, Callable[[pd.DataFrame, dt.date | None, IssueLog], Mapped]] = {
    "native": _map_native,
    "lendingclub": _map_lendingclub,
    "loan-record": _map_loan_record,
}


def _blank_nested(frame: pd.DataFrame, log: IssueLog) -> pd.DataFrame:
    """Log every cell holding a list or an object (JSON, Parquet) and blank it for the checks."""
    changed = {}
    for position, column in enumerate(frame.columns):
        raw = frame.iloc[:, position]
        if raw.dtype != object:
            continue
        nested = raw.map(lambda v: isinstance(v, (list, dict, tuple, set, np.ndarray))).to_numpy(dtype=bool)
        if nested.any():
            log.add_mask(nested, column=str(column), values=raw.map(lambda v: shorten(v, 80)),
                         rule="must be one value (text or a number), not a list or an object")
            changed[column] = raw.mask(nested)
    return frame.assign(**changed) if changed else frame


def map_tape(frame: pd.DataFrame, *, fmt: str, cutoff_date: dt.date | None, log: IssueLog,
             mapping: Any = None) -> Mapped:
    """Map a tape to canonical columns; ``fmt`` is a key of :data:`FORMATS` or ``"auto"``.

    With ``mapping`` (a :class:`engine.ingest._usermap.ColumnMapping`) the user's mapping is
    applied instead and ``fmt`` is ignored.

    Two columns whose names differ only in case or surrounding spaces are logged as an issue:
    columns are matched that way, so which one is meant cannot be told. So is every cell that
    holds a list or an object (JSON, Parquet) instead of one value; it is blanked for the
    checks that follow.
    """
    first: dict[str, str] = {}
    for column in map(str, frame.columns):
        key = _norm(column)
        if key in first:
            log.add(None, column=shorten(column), value=None,
                    rule=f"same column as {shorten(first[key])!r} once case and surrounding spaces "
                         "are ignored (columns are matched that way); keep one")
        else:
            first[key] = column
    frame = _blank_nested(frame, log)
    if mapping is not None:
        from ._usermap import apply_mapping  # _usermap builds on this module

        return apply_mapping(frame, mapping=mapping, cutoff_date=cutoff_date, log=log)
    if fmt == "auto":
        fmt = detect_format(frame.columns)
    mapper = _MAPPERS.get(fmt)
    if mapper is None:
        raise InputError(f"Unknown tape format {fmt!r}; valid: auto, {', '.join(FORMATS)}.")
    mapped = mapper(frame.reset_index(drop=True), cutoff_date, log)
    missing = [c for c in REQUIRED_COLUMNS if c not in mapped.frame.columns]
    for c in missing:
        if not any(i.row is None and i.column == log.name(c) for i in log.issues):
            log.add(None, column=c, value=None, rule="required column missing")
    return mapped

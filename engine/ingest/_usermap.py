"""User column mappings: any tape layout → the canonical columns of :data:`ASSET_COLUMNS`.

A :class:`ColumnMapping` says, for each StressLab field, which source column holds it or which
constant it takes; how source values translate into StressLab codes (``CHGOFF`` → ``default``);
whether each rate column is in percent or decimal; and, optionally, that ``age`` and ``term``
are derived from an origination and a maturity date column and the cutoff date.
:func:`apply_mapping` turns a tape into the canonical columns; the result then goes through
:func:`engine.ingest._validate.validate_frame` like any other tape. :func:`suggest_mapping`
proposes a mapping from a tape's header and a sample of its rows.

Month counting (derived ``age`` and ``term``): the one rule of every date-deriving reader,
:func:`engine.ingest._mappings.whole_months` (whole calendar months, floored; a month-end date
completes the month: origination 31 Jan, cutoff 30 Jun → 5 months), the same as the
loan-record layout. ``term`` is origination → maturity (the original term), ``age`` is
origination → cutoff date; the remaining term is ``term - age``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping as MappingABC
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from engine.errors import InputError
from engine.ingest.models import ASSET_COLUMNS, REQUIRED_COLUMNS, AssetClass, AssetStatus, RateType
from engine.limits import MAX_COLUMN_NAME_CHARS, shorten

from ._issues import IssueLog
from ._mappings import Mapped, whole_months
from ._validate import UNIT_COLUMNS

__all__ = [
    "CATEGORY_CODES",
    "CHECK",
    "DATE_FORMATS",
    "MAPPED_FORMAT",
    "MAX_VALUE_MAP",
    "ColumnMapping",
    "DateDerivation",
    "FieldSource",
    "MappingSuggestion",
    "apply_mapping",
    "column_kinds",
    "distinct_values",
    "suggest_codes",
    "STATUS_HINTS",
    "ASSET_CLASS_HINTS",
    "suggest_mapping",
    "whole_months",
]

#: ``source_format`` of a pool read through a user mapping.
MAPPED_FORMAT = "mapped"
#: The StressLab codes of each categorical field (the targets of a value map).
CATEGORY_CODES: dict[str, tuple[str, ...]] = {
    "asset_class": tuple(c.value for c in AssetClass),
    "rate_type": tuple(r.value for r in RateType),
    "status": tuple(s.value for s in AssetStatus),
}
#: Most source values one field's value map may list.
MAX_VALUE_MAP = 500
#: Date formats the suggestions try on a date column (strftime codes), in this order.
DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y%m%d", "%Y%m",
                                 "%d-%b-%Y", "%b-%Y", "%Y-%m")
#: The format of an all-digit date column, by its number of digits.
_DIGIT_FORMATS = {8: "%Y%m%d", 6: "%Y%m"}
_NUMERIC_FIELDS = tuple(f for f, t in ASSET_COLUMNS.items() if t in ("float64", "int64"))
_TEXT_FIELDS = tuple(f for f, t in ASSET_COLUMNS.items() if t == "string")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]
ColumnName = Annotated[str, StringConstraints(min_length=1, max_length=MAX_COLUMN_NAME_CHARS)]
SourceValue = Annotated[str, StringConstraints(max_length=200)]
ConstantText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class FieldSource(BaseModel):
    """Where one StressLab field comes from: a source column, or a constant for every row.

    A constant is in StressLab's own units and codes (rates decimal, terms in months,
    ``consumer_loan``), not the tape's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    column: ColumnName | None = None
    constant: ConstantText | float | int | None = None

    @model_validator(mode="after")
    def _one(self) -> "FieldSource":
        if (self.column is None) == (self.constant is None):
            raise ValueError("give exactly one of column (a source column) or constant")
        if isinstance(self.constant, float) and not np.isfinite(self.constant):
            raise ValueError("a constant must be a finite number")
        return self


class DateDerivation(BaseModel):
    """``age`` (and ``term``) derived from date columns and the cutoff date.

    Attributes
    ----------
    origination : str
        Source column of the origination date; ``age`` = whole months origination → cutoff.
    maturity : str, optional
        Source column of the maturity date; ``term`` = whole months origination → maturity.
        Without it ``term`` must come from a column or a constant.
    format : str, optional
        strftime format of both columns (``%m/%d/%Y``); default ISO 8601 (``YYYY-MM-DD``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    origination: ColumnName
    maturity: ColumnName | None = None
    format: Annotated[str, StringConstraints(min_length=2, max_length=40)] | None = None

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None:
            _check_format(value)
        return value


_SAMPLE_DATE = dt.datetime(2018, 3, 1)


def _check_format(fmt: str) -> None:
    """Refuse a date format that cannot write and read back a sample date (1 March 2018) to
    its year and month: an unknown or stray ``%`` code, or no year or month in it.

    Raises
    ------
    ValueError
        Naming the format and what is wrong (pydantic reports it as a validation error).
    """
    if "%" not in fmt:
        raise ValueError(f"date format {fmt!r} has no % code; use e.g. %Y-%m-%d")
    try:
        sample = _SAMPLE_DATE.strftime(fmt)
        back = pd.to_datetime(pd.Series([sample]), format=fmt, errors="coerce").iloc[0]
    except (ValueError, TypeError) as exc:
        raise ValueError(f"date format {fmt!r} is not a valid strftime format ({exc}); use "
                         "codes such as %Y (2018), %m (03), %d (01), %b (Mar)") from None
    if pd.isna(back) or (back.year, back.month) != (2018, 3):
        raise ValueError(f"date format {fmt!r} cannot write and read back a date to its year "
                         f"and month (1 March 2018 → {sample!r}); it needs a year (%Y) and a "
                         "month (%m or %b)")


class ColumnMapping(BaseModel):
    """A saved column mapping: how one tape layout becomes StressLab's canonical columns.

    Attributes
    ----------
    name : str
        1 to 80 characters, no control or invisible characters; the key it is stored under.
    description : str
        Free text, at most 1,000 characters.
    fields : dict of str to FieldSource
        StressLab field (a key of :data:`ASSET_COLUMNS`) → source column or constant. A field
        left out is treated as the tape lacking it (defaults, assumption fill or an error, as
        for any tape).
    values : dict of str to dict of str to str
        For ``asset_class``, ``rate_type`` and ``status`` mapped from a column: source value
        (compared after stripping surrounding blanks) → StressLab code. A value neither listed
        nor already a StressLab code is an issue naming its row, column and value.
    units : dict of str to {"percent", "decimal"}
        For the rate fields (``rate``, ``prepayment_speed``, ``default_probability``,
        ``recovery_rate``, ``loss_severity``) mapped from a column: the column's unit. Percent is
        divided by 100 (rates are stored decimal). A rate field without a unit keeps the
        tape reader's rule (a column whose values are all 0 or in (1, 100] is read as percent).
    dates : DateDerivation, optional
        Derive ``age`` (and ``term``) from date columns; then ``age`` (and ``term``) may not
        also appear in ``fields``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] = ""
    fields: dict[str, FieldSource] = Field(default_factory=dict, max_length=len(ASSET_COLUMNS))
    values: dict[str, dict[SourceValue, str]] = Field(default_factory=dict, max_length=3)
    units: dict[str, Literal["percent", "decimal"]] = Field(default_factory=dict,
                                                          max_length=len(UNIT_COLUMNS))
    dates: DateDerivation | None = None

    @model_validator(mode="after")
    def _check(self) -> "ColumnMapping":
        if _CONTROL.search(self.name):
            raise ValueError("name holds a control or invisible character; type it plainly")
        unknown = sorted(set(self.fields) - set(ASSET_COLUMNS))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}; fields are "
                             f"{', '.join(ASSET_COLUMNS)}")
        for f, src in self.fields.items():
            c = src.constant
            if c is None:
                continue
            if f in CATEGORY_CODES and c not in CATEGORY_CODES[f]:
                raise ValueError(f"constant for {f} must be one of {', '.join(CATEGORY_CODES[f])}")
            if f in _NUMERIC_FIELDS and (isinstance(c, str) or isinstance(c, bool)):
                raise ValueError(f"constant for {f} must be a number")
            if f in ("asset_id",):
                raise ValueError("asset_id must come from a column (each loan needs its own id)")
        for f, table in self.values.items():
            if f not in CATEGORY_CODES:
                raise ValueError(f"values can be mapped for {', '.join(CATEGORY_CODES)} only, "
                                 f"not {f}")
            if f not in self.fields or self.fields[f].column is None:
                raise ValueError(f"a value map for {f} needs {f} mapped from a source column")
            if len(table) > MAX_VALUE_MAP:
                raise ValueError(f"value map for {f} lists {len(table)} values; at most "
                                 f"{MAX_VALUE_MAP}")
            bad = sorted({v for v in table.values() if v not in CATEGORY_CODES[f]})
            if bad:
                raise ValueError(f"value map for {f} maps to {', '.join(map(repr, bad))}; valid "
                                 f"codes: {', '.join(CATEGORY_CODES[f])}")
        for f in self.units:
            if f not in UNIT_COLUMNS:
                raise ValueError(f"a unit can be given for {', '.join(UNIT_COLUMNS)} only, not {f}")
            if f not in self.fields or self.fields[f].column is None:
                raise ValueError(f"a unit for {f} needs {f} mapped from a source column")
        if self.dates is not None:
            derived = ["age"] + (["term"] if self.dates.maturity is not None else [])
            clash = [f for f in derived if f in self.fields]
            if clash:
                raise ValueError(f"{' and '.join(clash)} derived from the date columns; remove "
                                 f"{'them' if len(clash) > 1 else 'it'} from fields")
        return self

    def source_columns(self) -> list[str]:
        """Every source column the mapping reads, in field order, then the date columns."""
        cols = [s.column for s in self.fields.values() if s.column is not None]
        if self.dates is not None:
            cols += [c for c in (self.dates.origination, self.dates.maturity) if c is not None]
        return list(dict.fromkeys(cols))


# --------------------------------------------------------------------------- applying

def _cell_text(raw: pd.Series) -> pd.Series:
    """A column as stripped text; a whole-number cell (a YYYYMM date or a status code 0/1/2
    read as numbers, float when a cell is blank) is written without its ``.0`` (202303.0 →
    ``202303``, 2.0 → ``2``)."""
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype("string")
    if pd.api.types.is_numeric_dtype(raw):
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        whole = (num.notna() & np.isfinite(num) & (num % 1 == 0) & (num.abs() < 1e15))
        text = num.astype("string")
        return text.mask(whole, num.where(whole, 0).astype("int64").astype("string"))

    def one(v):
        if isinstance(v, float) and np.isfinite(v) and v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return v

    return raw.map(one).astype("string").str.strip()


def _dates(raw: pd.Series, fmt: str | None) -> pd.Series:
    """A date column parsed by ``fmt`` (ISO 8601 when None); unparseable cells become NaT."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        return pd.to_datetime(raw)
    return pd.to_datetime(_cell_text(raw), format=fmt or "ISO8601", errors="coerce")


def _resolve(frame: pd.DataFrame) -> dict[str, str]:
    """Source column lookup: exact name, then case and surrounding blanks ignored."""
    out: dict[str, str] = {}
    for c in map(str, frame.columns):
        out.setdefault(c.strip().lower(), c)
    for c in map(str, frame.columns):
        out[c] = c
    return out


def _value_map(raw: pd.Series, *, field: str, table: MappingABC[str, str],
               log: IssueLog) -> pd.Series:
    """Source values → StressLab codes; a value neither in ``table`` nor a code is logged.

    Values are compared as text, a whole number without ``.0`` (a numeric code 2, read as 2.0
    when the column has a blank, is ``2``)."""
    text = _cell_text(raw)
    codes = CATEGORY_CODES[field]
    mapped = text.map(dict(table)).astype("string")
    passthrough = text.where(text.isin(codes))
    out = mapped.fillna(passthrough)
    unmapped = (out.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
    listed = ", ".join(sorted(table)) or "none"
    log.add_mask(unmapped, column=field, values=raw,
                 rule=f"value not in the mapping's value map for {field} "
                      f"(mapped: {shorten(listed, 200)}); add it, mapped to one of "
                      f"{', '.join(codes)}")
    return out


#: Starts every warning the mapping editor shows as a warning, not a note.
CHECK = "Check: "


def _check_percent(num: pd.Series, *, field: str, log: IssueLog, warnings: list[str]) -> None:
    """A column declared percent whose non-zero values all lie in [-1, 1] looks decimal.

    Dividing it by 100 would change every figure a hundredfold, so for ``rate``,
    ``prepayment_speed``, ``recovery_rate`` and ``loss_severity`` it is a whole-column issue
    (the tape is refused) naming the values' range and the rule. An annual CDR below 1 % for
    every loan is plausible (a prime book), so for ``default_probability`` it is a warning.
    """
    nonzero = num[num.notna() & (num != 0)]
    if nonzero.empty or float(nonzero.abs().max()) > 1.0:
        return
    low, high = float(nonzero.min()), float(nonzero.max())
    span = f"{low:g} to {high:g}"
    said = (f"declared percent, but every non-zero value is between {low:g} and {high:g}: "
            "these look like decimals, and percent divides every value by 100")
    if field == "default_probability":
        warnings.append(f"{CHECK}{field} {said}; if they are decimals set the unit to decimal.")
        return
    log.add(None, column=field, value=span,
            rule=f"{said}; set the unit of {field} to decimal (a rate in percent is above 1 "
                 "for some loan)")


def apply_mapping(frame: pd.DataFrame, *, mapping: ColumnMapping,
                  cutoff_date: dt.date | None, log: IssueLog) -> Mapped:
    """Map a tape to canonical columns with a user's :class:`ColumnMapping`.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        The tape as read, rows in file order.
    mapping : ColumnMapping
    cutoff_date : date or None
        The date balances and ages refer to; required when ``mapping.dates`` derives ``age``.
    log : IssueLog
        Receives every problem: a source column the tape lacks, a required field left unmapped
        (whole-column issues), an unmapped value or an unreadable date (one per cell, 1-based
        data row, the tape's column name).

    Returns
    -------
    Mapped
        Canonical column names, tape values (rates in percent already divided by 100) for
        :func:`engine.ingest._validate.validate_frame`; ``metadata`` records the mapping.

    Raises
    ------
    InputError
        If the mapping derives ``age`` from dates and no cutoff date is given.
    """
    if mapping.dates is not None and cutoff_date is None:
        raise InputError(f"Mapping {mapping.name!r} derives age from the origination date, so "
                         "it needs the cutoff date (the date the balances refer to); give one.")
    frame = frame.reset_index(drop=True)
    lookup = _resolve(frame)
    out = pd.DataFrame(index=frame.index)
    warnings: list[str] = []

    def column(name: str, field: str) -> pd.Series | None:
        actual = lookup.get(name) or lookup.get(name.strip().lower())
        if actual is None:
            log.add(None, column=shorten(name), value=None,
                    rule=f"column named by mapping {mapping.name!r} for {field} is not in the "
                         "tape; pick another column or fix the mapping")
            return None
        log.source_names[field] = actual
        return frame[actual]

    for field, src in mapping.fields.items():
        if src.constant is not None:
            out[field] = pd.Series([src.constant] * len(frame), index=frame.index, dtype=object)
            warnings.append(f"{field} set to {src.constant!r} for every loan (a constant of the "
                            f"mapping).")
            continue
        raw = column(src.column, field)
        if raw is None:
            continue
        if field in mapping.values:
            out[field] = _value_map(raw, field=field, table=mapping.values[field], log=log)
        elif mapping.units.get(field) == "percent":
            num = pd.to_numeric(raw, errors="coerce").astype("float64")
            log.add_mask((num.isna() & raw.notna()).to_numpy(), column=field, values=raw,
                         rule="must be a number")
            _check_percent(num, field=field, log=log, warnings=warnings)
            out[field] = num / 100.0
            warnings.append(f"{field} from {raw.name!r} in percent, divided by 100.")
        else:
            out[field] = raw
    if mapping.dates is not None:
        d = mapping.dates
        fmt_text = d.format or "YYYY-MM-DD"
        raw_o = column(d.origination, "age")
        if raw_o is not None:
            start = _dates(raw_o, d.format)
            log.add_mask((start.isna() & raw_o.notna()).to_numpy(), column="age", values=raw_o,
                         rule=f"origination date must be a date like {fmt_text}")
            log.add_mask(raw_o.isna().to_numpy(), column="age", values=raw_o,
                         rule="origination date missing")
            cut = pd.Series(pd.Timestamp(cutoff_date), index=frame.index)
            age = whole_months(start, cut)
            log.add_mask(np.nan_to_num(age, nan=0.0) < 0, column="age", values=raw_o,
                         rule="origination date is after the cutoff date "
                              f"{cutoff_date.isoformat()}")
            out["age"] = age
            if d.maturity is not None:
                raw_m = column(d.maturity, "term")
                if raw_m is not None:
                    end = _dates(raw_m, d.format)
                    log.add_mask((end.isna() & raw_m.notna()).to_numpy(), column="term",
                                 values=raw_m, rule=f"maturity date must be a date like {fmt_text}")
                    log.add_mask(raw_m.isna().to_numpy(), column="term", values=raw_m,
                                 rule="maturity date missing")
                    log.add_mask((start.isna() & end.notna()).to_numpy(), column="term",
                                 values=raw_m, rule="term not derived: this row's origination "
                                                    "date is missing or unreadable")
                    term = whole_months(start, end)
                    log.add_mask(np.nan_to_num(term, nan=1.0) <= 0, column="term", values=raw_m,
                                 rule="maturity date must be at least one month after the "
                                      "origination date")
                    out["term"] = term
        warnings.append(
            f"age = whole months from {d.origination!r} to the cutoff date "
            f"{cutoff_date.isoformat()}"
            + (f"; term = whole months from {d.origination!r} to {d.maturity!r}"
               if d.maturity else "")
            + " (a month counts once its day is reached; a month-end date completes it).")
    for c in REQUIRED_COLUMNS:
        if c not in out.columns:
            log.add(None, column=c, value=None,
                    rule=f"required field not mapped by {mapping.name!r}; map a column or a "
                         "constant")
    metadata = {"mapping": mapping.model_dump(mode="json"), "mapping_name": mapping.name}
    return Mapped(out, MAPPED_FORMAT, cutoff_date, warnings, metadata)


# --------------------------------------------------------------------------- suggestions

#: Names (normalised: lower case, words joined by ``_``) that suggest each field.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "asset_id": ("loan_id", "loan_no", "loan_number", "loan_num", "id", "account", "account_id",
                 "acct_no", "account_number", "loanid", "note_id"),
    "asset_class": ("product", "product_type", "loan_type", "asset_type", "loantype", "class",
                    "product_code", "collateral_type"),
    "balance": ("current_balance", "curr_upb", "upb", "current_upb", "outstanding_balance",
                "principal_balance", "curr_bal", "cur_bal", "balance_outstanding",
                "gross_balance", "currentbalance", "unpaid_principal_balance"),
    "rate": ("interest_rate", "note_rate", "note_rt", "note_rt_pct", "coupon", "int_rate",
             "current_rate", "curr_rate", "interestrate", "apr"),
    "term": ("original_term", "orig_term", "term_months", "loan_term", "amort_term",
             "term_in_months"),
    "age": ("loan_age", "seasoning", "months_on_book", "mob", "age_months"),
    "original_balance": ("orig_amt", "loan_amount", "original_amount", "orig_bal",
                         "original_upb", "orig_upb", "funded_amount", "loanamount",
                         "gross_approval", "original_loan_amount", "commitment"),
    "rate_type": ("rate_type", "int_type", "interest_type", "fixed_float", "arm_flag",
                  "rate_typ", "fixed_variable"),
    "prepayment_speed": ("cpr", "prepay_speed", "prepayment_rate"),
    "default_probability": ("cdr", "pd", "default_rate", "prob_default", "defaultriskscore"),
    "recovery_rate": ("recovery", "recovery_pct"),
    "loss_severity": ("severity", "lgd", "loss_given_default"),
    "status": ("loan_status", "loan_stat", "status_code", "stat", "delinquency_status",
               "dlq_status", "performance_status", "loanstatus"),
    "grade": ("credit_grade", "risk_grade", "rating", "internal_rating", "grade_code"),
    "recovery_lag": ("recovery_lag_months", "workout_months"),
}
#: Names that suggest the origination and the maturity date columns.
DATE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "origination": ("orig_dt", "origination_date", "orig_date", "issue_date", "issue_d",
                    "start_date", "note_date", "loanstartdate", "funded_date", "approval_date",
                    "first_payment_date", "issue_month", "disbursement_date"),
    "maturity": ("maturity_dt", "maturity_date", "mat_dt", "mat_date", "loanmaturitydate",
                 "maturity", "final_payment_date"),
}
_CUTOFF = 0.72  # difflib ratio below which a name is no suggestion


def _normalise(name: str) -> str:
    """Lower case, every run of non-alphanumerics as one ``_`` (``Note Rt %`` → ``note_rt``)."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def column_kinds(sample: pd.DataFrame) -> dict[str, str]:
    """The kind of each column of a sample: ``numeric``, ``date`` or ``text``.

    Parameters
    ----------
    sample : DataFrame of shape (n_sample, n_columns)
        The first rows of a tape.

    Returns
    -------
    dict of str to str
        ``numeric`` when at least 95 % of the non-missing cells read as numbers, ``date`` when
        the column is a datetime or 95 % parse under one of :data:`DATE_FORMATS`, else ``text``.
    """
    kinds: dict[str, str] = {}
    for position, name in enumerate(map(str, sample.columns)):
        raw = sample.iloc[:, position]
        kinds[name] = _kind(raw)
    return kinds


def _kind(raw: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(raw):
        return "date"
    values = raw.dropna()
    if values.empty:
        return "text"
    if pd.api.types.is_bool_dtype(values):
        return "text"
    if pd.api.types.is_numeric_dtype(values) and not _date_format(values):
        return "numeric"
    if pd.to_numeric(values, errors="coerce").notna().mean() >= 0.95 and not _date_format(values):
        return "numeric"
    return "date" if _date_format(values) else "text"


def _date_format(values: pd.Series) -> str | None:
    """The first of :data:`DATE_FORMATS` that parses 95 % of ``values`` (None if none does)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return "%Y-%m-%d"
    text = _cell_text(values.dropna())
    if text.empty:
        return None
    if text.str.fullmatch(r"\d+").all():
        # digits only (often read as numbers): YYYYMMDD or YYYYMM by length, recent years only
        lengths = set(text.str.len())
        fmt = _DIGIT_FORMATS.get(lengths.pop()) if len(lengths) == 1 else None
        if fmt is None:
            return None
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        ok = parsed.notna().mean() >= 0.95 and parsed.dt.year.dropna().between(1950, 2100).all()
        return fmt if ok else None
    if pd.api.types.is_numeric_dtype(values):
        return None
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        ok = parsed.notna().mean()
        if ok >= 0.95 and parsed.dt.year.between(1900, 2200).all():
            return fmt
    return None


class MappingSuggestion(BaseModel):
    """What :func:`suggest_mapping` proposes for a tape.

    Attributes
    ----------
    fields : dict of str to str or None
        StressLab field → the suggested source column (None: no column fits).
    scores : dict of str to float
        Field → how well the column's name matched, in [0, 1] (1: the field's name or a synonym).
    kinds : dict of str to str
        Source column → ``numeric``, ``date`` or ``text``.
    units : dict of str to {"percent", "decimal"}
        For suggested rate columns: percent when a sample value is above 1.
    origination, maturity : str or None
        Suggested date columns for deriving age and term.
    date_format : str or None
        The strftime format the suggested date columns parse with.
    distinct : dict of str to list of str
        For text columns: the distinct values of the sample (at most 50, most frequent first),
        for the value-map editor.
    """

    model_config = ConfigDict(frozen=True)

    fields: dict[str, str | None]
    scores: dict[str, float]
    kinds: dict[str, str]
    units: dict[str, Literal["percent", "decimal"]]
    origination: str | None
    maturity: str | None
    date_format: str | None
    distinct: dict[str, list[str]]


#: Source status codes (normalised: upper case, blanks and punctuation dropped) a servicer
#: commonly uses, and the StressLab status each suggests.
STATUS_HINTS: dict[str, str] = {
    "CUR": "performing", "CURRENT": "performing", "C": "performing", "PERF": "performing",
    "PIF": "paid_off", "PAIDINFULL": "paid_off", "PAID": "paid_off", "FULLYPAID": "paid_off",
    "PO": "paid_off", "CLOSED": "paid_off", "PAIDOFF": "paid_off",
    "CHGOFF": "default", "CHARGEDOFF": "default", "CO": "default", "DEF": "default",
    "DEFAULT": "default", "DEFAULTED": "default", "WO": "default", "WRITTENOFF": "default",
    "GRACE": "delinquent", "INGRACEPERIOD": "delinquent", "LATE": "delinquent",
    "DLQ": "delinquent", "DELINQUENT": "delinquent",
}


#: Prefixes of source product codes (upper case, alphanumerics only) and the asset class each
#: suggests, tried in this order.
ASSET_CLASS_HINTS: tuple[tuple[str, str], ...] = (
    ("CRE", "commercial_mortgage"), ("COMM", "commercial_mortgage"),
    ("MTG", "residential_mortgage"), ("MORT", "residential_mortgage"),
    ("RES", "residential_mortgage"), ("HOME", "residential_mortgage"),
    ("HEL", "residential_mortgage"),
    ("AUTO", "auto_loan"), ("CAR", "auto_loan"), ("VEH", "auto_loan"),
    ("PERS", "consumer_loan"), ("CONS", "consumer_loan"), ("INST", "consumer_loan"),
    ("STU", "student_loan"), ("EDU", "student_loan"),
    ("CC", "credit_card"), ("CARD", "credit_card"),
    ("SBA", "sme_loan"), ("SME", "sme_loan"), ("BUS", "sme_loan"), ("SMALLBUS", "sme_loan"),
)


def suggest_codes(field: str, values: list[str]) -> dict[str, str | None]:
    """A StressLab code suggested for each distinct source value of a categorical field.

    A value that already is a code (case, blanks, ``-`` ignored) keeps it; for ``status`` the
    servicer codes of :data:`STATUS_HINTS` and any ``DQ``/``DPD``/``LATE`` code (delinquent)
    are recognised; for ``asset_class`` the product-code prefixes of
    :data:`ASSET_CLASS_HINTS` (``PERS`` → consumer_loan, ``SBA`` → sme_loan); for ``rate_type``
    a value starting with FIX/FXD (fixed) or ARM/FLT/VAR (floating). Anything else gets None
    (the user picks).

    Parameters
    ----------
    field : {"asset_class", "rate_type", "status"}
    values : list of str
        Distinct source values.

    Returns
    -------
    dict of str to str or None
    """
    codes = CATEGORY_CODES[field]
    out: dict[str, str | None] = {}
    for v in values:
        norm = re.sub(r"[\s\-]+", "_", str(v).strip().lower())
        key = re.sub(r"[^0-9A-Z]", "", str(v).upper())
        guess: str | None = norm if norm in codes else None
        if guess is None and field == "status":
            guess = STATUS_HINTS.get(key)
            if guess is None and re.match(r"^(DQ|DPD|LATE|D)\d+", key):
                guess = "delinquent"
        if guess is None and field == "asset_class":
            guess = next((code for prefix, code in ASSET_CLASS_HINTS if key.startswith(prefix)),
                         None)
        if guess is None and field == "rate_type":
            if key.startswith(("FIX", "FXD", "FRM")):
                guess = "fixed"
            elif key.startswith(("ARM", "FLT", "FLOAT", "VAR", "ADJ")):
                guess = "floating"
        out[str(v)] = guess
    return out


def distinct_values(frame: pd.DataFrame, *, columns: list[str],
                    limit: int = 50) -> dict[str, list[str]]:
    """The distinct values (stripped text, whole numbers without ``.0``: as a value map
    compares them) of some columns, most frequent first.

    Returns
    -------
    dict of str to list of str
        At most ``limit`` values per column; missing cells are left out.
    """
    out = {}
    for c in columns:
        counts = _cell_text(frame[c]).value_counts()
        out[c] = [str(v) for v in counts.index[:limit]]
    return out


def _score(column: str, names: tuple[str, ...]) -> float:
    norm = _normalise(column)
    if norm in names:
        return 1.0
    best = max(difflib.SequenceMatcher(None, norm, n).ratio() for n in names)
    tokens = set(norm.split("_"))
    if any(set(n.split("_")) <= tokens for n in names if len(n) > 3):
        best = max(best, 0.85)
    return best


def suggest_mapping(sample: pd.DataFrame) -> MappingSuggestion:
    """Suggest a source column for each StressLab field from a tape's header and first rows.

    Each field is matched by name (its own name and the synonyms of :data:`SYNONYMS`, compared
    after :func:`_normalise`; else difflib's ratio, at least 0.72) among the columns of the
    right kind (numeric for numeric fields; text or numeric codes for text fields; a date
    column is never suggested for a field). Each column is suggested for one field at most: the
    best-scoring pairs are taken first.

    Parameters
    ----------
    sample : DataFrame of shape (n_sample, n_columns)
        The tape's first rows (a few hundred are plenty), as read.

    Returns
    -------
    MappingSuggestion
    """
    kinds = column_kinds(sample)
    pairs: list[tuple[float, str, str]] = []
    for field in ASSET_COLUMNS:
        names = (field, *SYNONYMS.get(field, ()))
        for column, kind in kinds.items():
            if kind == "date":
                continue
            if field in _NUMERIC_FIELDS and kind != "numeric":
                continue
            s = _score(column, names)
            if s >= _CUTOFF:
                pairs.append((s, field, column))
    pairs.sort(key=lambda p: (-p[0], list(ASSET_COLUMNS).index(p[1])))
    fields: dict[str, str | None] = dict.fromkeys(ASSET_COLUMNS)
    scores: dict[str, float] = {}
    used: set[str] = set()
    for s, field, column in pairs:
        if fields[field] is None and column not in used:
            fields[field], scores[field] = column, round(s, 3)
            used.add(column)
    dates = [c for c, k in kinds.items() if k == "date" and c not in used]
    picked: dict[str, str | None] = {}
    for role, names in DATE_SYNONYMS.items():
        ranked = sorted(((_score(c, names), c) for c in dates if c not in picked.values()),
                        reverse=True)
        picked[role] = ranked[0][1] if ranked and ranked[0][0] >= _CUTOFF else None
    date_format = None
    if picked["origination"] is not None:
        date_format = _date_format(sample[picked["origination"]])
    units: dict[str, Literal["percent", "decimal"]] = {}
    for field in UNIT_COLUMNS:
        column = fields.get(field)
        if column is not None:
            v = pd.to_numeric(sample[column], errors="coerce")
            units[field] = "percent" if bool((v > 1).any()) else "decimal"
    distinct = distinct_values(sample, columns=[c for c, k in kinds.items() if k == "text"])
    return MappingSuggestion(fields=fields, scores=scores, kinds=kinds, units=units,
                             origination=picked["origination"], maturity=picked["maturity"],
                             date_format=date_format, distinct=distinct)

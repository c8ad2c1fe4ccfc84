"""The assumption table: behavioural values for loans whose tape does not carry them.

Real tapes rarely carry a prepayment speed (CPR), a default rate (CDR), a recovery rate or a
recovery lag. The packaged table ``engine/ingest/data/assumptions.csv`` holds one value per asset
class (``grade`` blank = any grade) and per grade where it matters (consumer loans A–G); every
number cites its source in ``engine/ingest/data/ASSUMPTIONS.md``. Only missing values are filled,
and every fill is reported.
"""

from __future__ import annotations

from importlib import resources
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd

from engine.ingest.models import AssetClass, AssetStatus
from engine.errors import InputError, ValidationError

from ._issues import IssueLog
from ._readers import read_source

__all__ = ["AssumptionTable", "load_assumptions", "VALUE_FIELDS", "fill_behavioural"]

#: Value columns of the table: (name, lower bound, upper bound, integer?).
_FIELDS: tuple[tuple[str, float, float, bool], ...] = (
    ("prepayment_speed", 0.0, 1.0, False),
    ("default_probability", 0.0, 1.0, False),
    ("recovery_rate", 0.0, 1.0, False),
    ("recovery_lag", 0.0, 120.0, True),
    ("delinquent_default_probability", 0.0, 1.0, False),
)
VALUE_FIELDS: tuple[str, ...] = tuple(f[0] for f in _FIELDS)
_KEY = ("asset_class", "grade")
_DOC = "engine/ingest/data/ASSUMPTIONS.md"
_VALID_CLASSES = tuple(c.value for c in AssetClass)


def _source_col(field: str) -> str:
    return f"{field}_source"


def _as_frame(table: pd.DataFrame | str | PathLike | bytes | list[dict[str, Any]]) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table.copy()
    if isinstance(table, list):
        return pd.DataFrame.from_records(table)
    # A file goes through the pool readers: the input limits, encoding detection, and a clear
    # InputError for a file that is not a CSV.
    frame = read_source(table, subject="assumption file", kinds=("csv",)).frame
    if "grade" in frame.columns:
        frame["grade"] = frame["grade"].astype("string")
    return frame


def _normalise(frame: pd.DataFrame, *, default_source: str, complete: bool, subject: str) -> pd.DataFrame:
    """Check and normalise an assumption frame (all values, or a partial override)."""
    log = IssueLog()
    frame = frame.rename(columns=lambda c: str(c).strip().lower())
    if "source" in frame.columns:  # one source for every value of the row
        for field in VALUE_FIELDS:
            if _source_col(field) not in frame.columns:
                frame[_source_col(field)] = frame["source"]
        frame = frame.drop(columns="source")
    if "asset_class" not in frame.columns:
        log.add(None, column="asset_class", value=None, rule="required column missing")
    known = set(_KEY) | set(VALUE_FIELDS) | {_source_col(f) for f in VALUE_FIELDS}
    for col in frame.columns:
        if col not in known:
            log.add(None,
                    column=col, value=None,
                    rule=f"unknown column; valid columns: {', '.join(sorted(known))}")
    if log:
        raise ValidationError(log.sorted(), subject=subject)

    out = pd.DataFrame(index=frame.index)
    cls = frame["asset_class"].astype("string").str.strip().str.lower()
    log.add_mask(~cls.isin(_VALID_CLASSES).fillna(False).to_numpy(),
                 column="asset_class", values=frame["asset_class"],
                 rule=f"unknown asset_class; valid: {', '.join(_VALID_CLASSES)}")
    out["asset_class"] = cls
    grade = frame["grade"].astype("string").str.strip().str.upper() if "grade" in frame else pd.Series(
        pd.NA, index=frame.index, dtype="string")
    out["grade"] = grade.mask(grade == "")
    for field, lo, hi, integer in _FIELDS:
        if field not in frame.columns:
            if complete:
                log.add(None, column=field, value=None, rule="required column missing")
            out[field] = np.nan
            out[_source_col(field)] = pd.Series(pd.NA, index=frame.index, dtype="string")
            continue
        raw = frame[field]
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        log.add_mask((num.isna() & raw.notna()).to_numpy(),
                     column=field, values=raw, rule="must be a number")
        if complete:
            log.add_mask((raw.isna()).to_numpy(), column=field, values=raw, rule="missing value")
        bad = num.notna() & ((num < lo) | (num > hi))
        log.add_mask(bad.to_numpy(), column=field, values=raw, rule=f"must lie in [{lo:g}, {hi:g}]")
        if integer:
            log.add_mask((num.notna() & (num % 1 != 0)).to_numpy(),
                         column=field, values=raw, rule="must be a whole number of months")
        out[field] = num
        src = frame[_source_col(field)].astype("string") if _source_col(field) in frame else pd.Series(
            pd.NA, index=frame.index, dtype="string")
        out[_source_col(field)] = src.fillna(default_source).where(num.notna())
    dup = out.duplicated(list(_KEY), keep="first")
    log.add_mask(dup.to_numpy(),
                 column="asset_class", values=out["asset_class"] + "/" + out["grade"].fillna("any"),
                 rule="duplicate (asset_class, grade) row")
    if complete:
        have_any = set(out.loc[out["grade"].isna(), "asset_class"].dropna())
        for cls_name in _VALID_CLASSES:
            if cls_name not in have_any:
                log.add(None,
                        column="asset_class", value=cls_name,
                        rule="needs a row with a blank grade (the any-grade default)")
    if log:
        raise ValidationError(log.sorted(), subject=subject)
    return out.reset_index(drop=True)


class AssumptionTable:
    """Behavioural assumptions by asset class and grade, with the source of every value.

    Columns (see :meth:`to_frame`): ``asset_class``; ``grade`` (<NA> = any grade);
    ``prepayment_speed`` (annual CPR, decimal); ``default_probability`` (annual CDR, decimal,
    applied to performing loans); ``recovery_rate`` (decimal share of a defaulted balance);
    ``recovery_lag`` (months from default to recovery cash); ``delinquent_default_probability``
    (annual CDR, decimal, applied to loans whose status is delinquent); and one
    ``<field>_source`` column per value naming its source (a key of ASSUMPTIONS.md, or the user's).

    Parameters
    ----------
    table : DataFrame, path, bytes or list of dict
        A complete table: a row with a blank grade for each of the seven asset classes, every
        value present. A single ``source`` column may stand for all ``<field>_source`` columns.
    name : str
        Where the table came from (shown in reports).

    Raises
    ------
    ValidationError
        Listing every bad cell: unknown asset class, value outside its range, missing value,
        duplicate (asset_class, grade) row, an asset class without an any-grade row.
    """

    def __init__(self, table: pd.DataFrame | str | PathLike | bytes | list[dict[str, Any]], *,
                 name: str = "user table") -> None:
        self.name = name
        self._frame = _normalise(_as_frame(table), default_source=name, complete=True,
                                 subject=f"assumption table {name!r}")

    @classmethod
    def _from_normalised(cls, frame: pd.DataFrame, name: str) -> "AssumptionTable":
        obj = cls.__new__(cls)
        obj.name = name
        obj._frame = frame
        return obj

    def to_frame(self) -> pd.DataFrame:
        """The table as a DataFrame (a copy), one row per (asset_class, grade)."""
        return self._frame.copy()

    def override(
        self,
        changes: pd.DataFrame | str | PathLike | bytes | list[dict[str, Any]],
        *,
        source: str = "user override",
    ) -> "AssumptionTable":
        """A new table with some values replaced (this one is left unchanged).

        Parameters
        ----------
        changes : DataFrame, CSV path, CSV bytes or list of dict
            Rows keyed by ``asset_class`` and optional ``grade``; any subset of the value
            columns. A blank value keeps the current one; a (class, grade) row the table lacks
            is added (its missing values fall back to the class's any-grade row at fill time).
        source : str
            Source recorded for every changed value unless the rows carry their own
            ``source`` / ``<field>_source`` column.

        Returns
        -------
        AssumptionTable

        Raises
        ------
        ValidationError
            If a change names an unknown asset class or puts a value outside its range.

        Examples
        --------
        >>> table = load_assumptions().override([{"asset_class": "auto_loan", "prepayment_speed": 0.2}])
        """
        upd = _normalise(_as_frame(changes), default_source=source, complete=False,
                         subject="assumption override")
        base = self._frame.copy()
        key_base = base["asset_class"] + "|" + base["grade"].fillna("")
        key_upd = upd["asset_class"] + "|" + upd["grade"].fillna("")
        base.index = key_base
        upd.index = key_upd
        new_keys = [k for k in upd.index if k not in base.index]
        if new_keys:
            added = upd.loc[new_keys].copy()
            base = pd.concat([base, added])
        for field in VALUE_FIELDS:
            vals = upd[field].dropna()
            base.loc[vals.index, field] = vals
            base.loc[vals.index, _source_col(field)] = upd.loc[vals.index, _source_col(field)]
        return AssumptionTable._from_normalised(base.reset_index(drop=True), f"{self.name} + {source}")

    def lookup(self, field: str, *, asset_class: pd.Series,
               grade: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
        """Value, source and matched grade of ``field`` for each (asset_class, grade).

        A grade-specific row wins; otherwise the class's any-grade row. All inputs and outputs
        are Series of shape (n_assets,) on the same index; the matched grade is <NA> for the
        any-grade row.
        """
        if field not in VALUE_FIELDS:
            raise ValueError(f"unknown assumption field {field!r}")
        frame = self._frame
        specific = frame[frame["grade"].notna() & frame[field].notna()]
        generic = frame[frame["grade"].isna()].set_index("asset_class")
        spec_key = specific["asset_class"] + "|" + specific["grade"]
        spec_val = pd.Series(specific[field].to_numpy(), index=spec_key.to_numpy())
        spec_src = pd.Series(specific[_source_col(field)].to_numpy(), index=spec_key.to_numpy())
        keys = (asset_class + "|" + grade.fillna("")).to_numpy()
        v_spec = spec_val.reindex(keys).to_numpy(dtype="float64")
        s_spec = spec_src.reindex(keys).to_numpy(dtype=object)
        v_gen = generic[field].reindex(asset_class.to_numpy()).to_numpy(dtype="float64")
        s_gen = generic[_source_col(field)].reindex(asset_class.to_numpy()).to_numpy(dtype=object)
        use_spec = ~np.isnan(v_spec)
        value = pd.Series(np.where(use_spec, v_spec, v_gen), index=asset_class.index)
        src = pd.Series(np.where(use_spec, s_spec, s_gen), index=asset_class.index, dtype="string")
        matched = grade.where(pd.Series(use_spec, index=asset_class.index)).astype("string")
        return value, src, matched

    def delinquent_cdr(self) -> dict[str, float]:
        """The CDR floor of delinquent loans, by asset class.

        Returns
        -------
        dict of str to float
            asset_class → annual CDR, decimal: the any-grade row's
            ``delinquent_default_probability`` (classes without a value are left out). The credit
            engine applies it as a floor on the CDR of loans whose status is delinquent.
        """
        rows = self._frame[self._frame["grade"].isna()]
        rows = rows.dropna(subset=["delinquent_default_probability"])
        return dict(zip(rows["asset_class"].astype(str),
                        rows["delinquent_default_probability"].astype(float), strict=True))

    def __repr__(self) -> str:
        return f"AssumptionTable(name={self.name!r}, rows={len(self._frame)})"


def load_assumptions(path: str | PathLike | None = None) -> AssumptionTable:
    """Load an assumption table; by default the packaged one.

    Parameters
    ----------
    path : path-like, optional
        A complete table in CSV (columns as in :class:`AssumptionTable`). None loads
        ``engine/ingest/data/assumptions.csv``, whose every value is sourced in ASSUMPTIONS.md.

    Returns
    -------
    AssumptionTable

    Raises
    ------
    InputError
        If the file is missing or empty.
    ValidationError
        If any value is missing, out of range, or an asset class lacks its any-grade row.
    """
    if path is None:
        packaged = resources.files("engine.ingest").joinpath("data/assumptions.csv")
        with packaged.open("rb") as fh:  # our own file: read as it is, outside the input limits
            table = AssumptionTable(pd.read_csv(fh, dtype={"grade": "string"}), name="packaged")
        for field in VALUE_FIELDS:  # make every packaged source key point at its documentation
            col = _source_col(field)
            table._frame[col] = _DOC + "#" + table._frame[col]
        return table
    return AssumptionTable(path, name=str(path))


def _group_codes(frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Codes of shape (n_assets,) into the distinct (asset_class, grade, status) groups, and the groups."""
    keys = []
    uniques = []
    for column in ("asset_class", "grade", "status"):
        codes, values = pd.factorize(frame[column], use_na_sentinel=True)
        keys.append(codes.astype(np.int64) + 1)  # NA → 0
        uniques.append(np.concatenate([[None], np.asarray(values, dtype=object)]))
    sizes = [len(u) for u in uniques]
    combined = (keys[0] * sizes[1] + keys[1]) * sizes[2] + keys[2]
    group_ids, inverse = np.unique(combined, return_inverse=True)
    k2 = group_ids % sizes[2]
    k1 = (group_ids // sizes[2]) % sizes[1]
    k0 = group_ids // (sizes[1] * sizes[2])
    groups = pd.DataFrame({"asset_class": uniques[0][k0], "grade": uniques[1][k1], "status": uniques[2][k2]})
    return inverse, groups


def fill_behavioural(frame: pd.DataFrame, table: AssumptionTable) -> list[dict[str, Any]]:
    """Fill missing behavioural values of a validated canonical frame in place; report the fills.

    Looks up each distinct (asset_class, grade, status) once and broadcasts, so the cost is a
    few vectorized passes over the pool. ``default_probability`` of a delinquent loan is filled
    from ``delinquent_default_probability``. ``loss_severity`` is then ``1 - recovery_rate``
    wherever it is missing.

    Returns
    -------
    list of dict
        One record per (field, asset_class, grade, value, source) with ``n_assets`` filled, and
        ``basis``: the table column the value came from.
    """
    report: list[dict[str, Any]] = []
    fields = ("prepayment_speed", "default_probability", "recovery_rate", "recovery_lag")
    missing = {f: frame[f].isna().to_numpy() for f in fields}
    if any(m.any() for m in missing.values()):
        inverse, groups = _group_codes(frame)
        cls = pd.Series(groups["asset_class"], dtype="string")
        grade = pd.Series(groups["grade"], dtype="string")
        delinquent = (groups["status"] == AssetStatus.DELINQUENT.value).to_numpy()
        for field in fields:
            miss = missing[field]
            if not miss.any():
                continue
            value, src, matched = table.lookup(field, asset_class=cls, grade=grade)
            basis = np.full(len(groups), field, dtype=object)
            if field == "default_probability" and delinquent.any():
                d_val, d_src, d_grade = table.lookup("delinquent_default_probability",
                                                     asset_class=cls, grade=grade)
                value = value.where(~delinquent, d_val)
                src = src.where(~delinquent, d_src)
                matched = matched.where(~delinquent, d_grade)
                basis = np.where(delinquent, "delinquent_default_probability", basis)
            column = frame[field].to_numpy(dtype="float64", copy=True)
            column[miss] = value.to_numpy(dtype="float64")[inverse[miss]]
            frame[field] = column
            n_filled = np.bincount(inverse[miss], minlength=len(groups))
            parts = pd.DataFrame({
                "basis": basis, "asset_class": cls.astype(object), "grade": matched.astype(object).fillna("any"),
                "value": value.to_numpy(), "source": src.astype(object), "n": n_filled,
            })
            parts = parts[parts["n"] > 0]
            counts = parts.groupby(["basis", "asset_class", "grade", "value", "source"], sort=True)["n"].sum()
            for (basis_name, cls_name, grade_name, val, source), n in counts.items():
                report.append({
                    "field": field,
                    "asset_class": cls_name,
                    "grade": None if grade_name == "any" else grade_name,
                    "value": int(val) if field == "recovery_lag" else float(val),
                    "source": source,
                    "n_assets": int(n),
                    "basis": basis_name,
                })
    ls_missing = frame["loss_severity"].isna().to_numpy()
    if ls_missing.any():
        sev = frame["loss_severity"].to_numpy(dtype="float64", copy=True)
        sev[ls_missing] = 1.0 - frame["recovery_rate"].to_numpy(dtype="float64")[ls_missing]
        frame["loss_severity"] = sev
    return report

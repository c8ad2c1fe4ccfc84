"""Exports that leave the app: CSV safe to open in a spreadsheet, Parquet, JSON.

A CSV text cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is
run as a formula by spreadsheet programs; such cells are prefixed with a single quote, as the
OWASP "CSV Injection" guidance recommends. Numeric columns are left as numbers.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from engine.errors import InputError

__all__ = ["escape_formulas", "to_safe_csv", "write_table"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot be read as spreadsheet formulas."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype.kind in "biufcmM":
            continue
        as_text = s.astype("string")
        risky = as_text.str.startswith(_FORMULA_START).fillna(False)
        if risky.any():
            out[col] = as_text.where(~risky, "'" + as_text)
    return out


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV bytes with formula-like text cells escaped."""
    buf = io.StringIO()
    escape_formulas(frame).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as CSV (formula-safe) or Parquet, chosen by the file's extension.

    Raises
    ------
    InputError
        If the extension is neither ``.csv`` nor ``.parquet``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise InputError(f"cannot write {path.name}: use a .csv or .parquet file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        path.write_bytes(to_safe_csv(frame))
    else:
        frame.to_parquet(path, index=False)
    return path

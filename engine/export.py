"""Exports that leave the app: CSV safe to open in a spreadsheet, Parquet, JSON.

A CSV text cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is
run as a formula by spreadsheet programs; such cells, and column names that begin so (an
uploaded tape's header), are prefixed with a single quote, as the OWASP "CSV Injection"
guidance recommends. Numeric columns are left as numbers.

A table may carry its provenance (run id, pool, discounting, analysis date, engine version,
inputs hash, units: :meth:`engine.credit.models.StressTestResult.provenance`): in CSV as a
header block of ``# key: value`` lines before the column names (:func:`read_csv` reads the
table; ``pandas.read_csv(path, comment="#")`` does too unless a text cell holds a ``#``), in
Parquet as file metadata (key ``stresslab.provenance``, JSON, and one ``stresslab.<key>`` entry
per fact).
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.errors import InputError

__all__ = ["escape_formulas", "to_safe_csv", "to_parquet", "read_provenance", "read_csv",
           "write_table", "PARQUET_KEY"]

#: The Parquet metadata key holding the whole provenance as JSON.
PARQUET_KEY = "stresslab.provenance"

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot be read as spreadsheet
    formulas (a name such as ``=HYPERLINK(...)`` from an uploaded tape becomes
    ``'=HYPERLINK(...)``)."""
    out = frame.copy()
    out.columns = [_escape_name(c) for c in out.columns]
    for position in range(out.shape[1]):
        s = out.iloc[:, position]
        if s.dtype.kind in "biufcmM":
            continue
        as_text = s.astype("string")
        risky = as_text.str.startswith(_FORMULA_START).fillna(False)
        if risky.any():
            out.isetitem(position, as_text.where(~risky, "'" + as_text))
    return out


def _escape_name(name: Any) -> Any:
    """A column name prefixed with a single quote when it starts like a formula."""
    return f"'{name}" if isinstance(name, str) and name.startswith(_FORMULA_START) else name


def _header(provenance: Mapping[str, Any] | None) -> str:
    if not provenance:
        return ""
    lines = []
    for key, value in provenance.items():
        text = "" if value is None else str(value)
        lines.append(f"# {key}: {' '.join(text.split())}\n")  # one line per fact
    return "".join(lines)


def to_safe_csv(frame: pd.DataFrame, *, provenance: Mapping[str, Any] | None = None) -> bytes:
    """``frame`` as UTF-8 CSV bytes with formula-like text cells escaped.

    Parameters
    ----------
    frame : DataFrame
    provenance : mapping, optional
        Written first as ``# key: value`` lines (read back with :func:`read_provenance`; the
        table with :func:`read_csv`).
    """
    buf = io.StringIO()
    buf.write(_header(provenance))
    escape_formulas(frame).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def to_parquet(frame: pd.DataFrame, *, provenance: Mapping[str, Any] | None = None) -> bytes:
    """``frame`` as Parquet bytes, its provenance in the file metadata (:data:`PARQUET_KEY`
    as JSON, and ``stresslab.<key>`` per fact)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if provenance:
        meta = dict(table.schema.metadata or {})
        meta[PARQUET_KEY.encode()] = json.dumps(dict(provenance), default=str).encode()
        for key, value in provenance.items():
            meta[f"stresslab.{key}".encode()] = ("" if value is None else str(value)).encode()
        table = table.replace_schema_metadata(meta)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def read_provenance(path_or_bytes: str | Path | bytes) -> dict[str, Any]:
    """The provenance of a CSV (header block, values as text) or Parquet file (JSON metadata).

    Returns an empty dict when the file carries none.
    """
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    if data[:4] == b"PAR1":
        meta = pq.read_schema(io.BytesIO(data)).metadata or {}
        raw = meta.get(PARQUET_KEY.encode())
        return json.loads(raw) if raw else {}
    out: dict[str, Any] = {}
    for line in data.decode("utf-8").splitlines():
        if not line.startswith("# "):
            break
        key, _, value = line[2:].partition(": ")
        out[key] = value
    return out


def read_csv(path_or_bytes: str | Path | bytes) -> pd.DataFrame:
    """The table of a CSV written by :func:`to_safe_csv`, its provenance block skipped.

    Only the leading ``# `` lines are skipped, so a text cell holding ``#`` (a scenario named
    "Stress #2") is read whole, which ``pandas.read_csv(comment="#")`` would cut.
    """
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    skip = 0
    for line in data.decode("utf-8").splitlines():
        if not line.startswith("# "):
            break
        skip += 1
    return pd.read_csv(io.BytesIO(data), skiprows=skip)


def write_table(frame: pd.DataFrame, *, path: str | Path,
                provenance: Mapping[str, Any] | None = None) -> Path:
    """Write ``frame`` as CSV (formula-safe) or Parquet, chosen by the file's extension, with
    its ``provenance`` (a CSV header block, or Parquet metadata).

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
        path.write_bytes(to_safe_csv(frame, provenance=provenance))
    else:
        path.write_bytes(to_parquet(frame, provenance=provenance))
    return path

"""Readers: a file or an upload → a pandas DataFrame, by extension or by sniffing its bytes.

CSV (also ``.csv.gz``) is read with pandas' pyarrow engine, Parquet with pyarrow, Excel
``.xlsx`` with openpyxl, JSON with the standard library (the request's pool shape). No format is
parsed by hand.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import IO, Any, Union

import pandas as pd

from engine.errors import InputError, Issue, ValidationError

__all__ = ["read_table", "Source", "TableRead", "read_source"]

Source = Union[str, PathLike, bytes, bytearray, memoryview, IO[bytes]]

_EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".csv.gz": "csv.gz", ".gz": "csv.gz",
    ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".xlsx": "xlsx",
}
SUPPORTED = "CSV (.csv, .csv.gz), Parquet (.parquet), JSON (.json) or Excel (.xlsx)"


@dataclass
class TableRead:
    """A table read from a source, and what the source said about the pool (JSON only)."""

    frame: pd.DataFrame
    kind: str
    name: str
    pool: dict[str, Any] = field(default_factory=dict)


def _kind_from_name(name: str | None) -> str | None:
    if not name:
        return None
    lower = name.lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if lower.endswith(ext):
            return _EXTENSIONS[ext]
    if lower.endswith((".xls", ".xlsm", ".xlsb", ".ods")):
        raise InputError(f"{name}: only Excel .xlsx workbooks are read; save it as .xlsx or CSV.")
    return None  # unknown or no extension: sniff the content


def _sniff(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"\x1f\x8b"):
        return "csv.gz"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _load(source: Source, filename: str | None) -> tuple[bytes | str, str]:
    """The source as bytes (upload) or a path string (file), and a display name."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), filename or "upload"
    if isinstance(source, (str, PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"File {str(path)!r} not found; check the path.")
        return str(path), filename or path.name
    read = getattr(source, "read", None)
    if read is None:
        raise InputError(f"Cannot read a pool from {type(source).__name__}; give a path, bytes or a binary file.")
    data = read()
    if isinstance(data, str):
        data = data.encode()
    name = filename or getattr(source, "name", None) or "upload"
    return bytes(data), os.path.basename(str(name))


def _empty(name: str) -> ValidationError:
    return ValidationError([Issue(None, None, None, "the file is empty; upload a file with a header row and data rows")],
                           subject=f"pool file {name}")


def _pool_from_json(obj: Any, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    if isinstance(obj, dict) and isinstance(obj.get("request"), dict):
        obj = obj["request"].get("pool")
    if isinstance(obj, dict) and "assets" in obj:
        assets = obj["assets"]
        pool = {k: v for k, v in obj.items() if k != "assets"}
    elif isinstance(obj, list):
        assets, pool = obj, {}
    else:
        raise InputError(
            f"{name}: JSON is not a pool. Expected {{pool_id, pool_name, assets: [...], cutoff_date, metadata}}, "
            "a whole request {\"request\": {\"pool\": {...}}}, or a list of asset objects."
        )
    if not isinstance(assets, list) or not all(isinstance(a, dict) for a in assets):
        raise InputError(f"{name}: 'assets' must be a list of objects, one per loan.")
    if not assets:
        raise ValidationError([Issue(None, "assets", None, "the pool has no assets; add at least one loan")],
                              subject=f"pool file {name}")
    return pd.DataFrame.from_records(assets), pool


def read_source(source: Source, *, filename: str | None = None) -> TableRead:
    """Read a table and, for JSON, the pool's own fields. See :func:`read_table`."""
    data, name = _load(source, filename)
    kind = _kind_from_name(filename) if filename else (
        _kind_from_name(data) if isinstance(data, str) else None)
    if isinstance(data, str):
        if os.path.getsize(data) == 0:
            raise _empty(name)
        if kind is None:
            with open(data, "rb") as fh:
                kind = _sniff(fh.read(512))
        handle: Any = data
    else:
        if len(data) == 0:
            raise _empty(name)
        kind = kind or _sniff(data[:512])
        handle = io.BytesIO(data)
    pool: dict[str, Any] = {}
    try:
        if kind in ("csv", "csv.gz"):
            frame = pd.read_csv(handle, engine="pyarrow",
                                compression="gzip" if kind == "csv.gz" else None)
        elif kind == "parquet":
            frame = pd.read_parquet(handle)
        elif kind == "xlsx":
            frame = pd.read_excel(handle, engine="openpyxl")
        else:
            if isinstance(handle, str):
                with open(handle, "rb") as fh:
                    obj = json.load(fh)
            else:
                obj = json.load(handle)
            frame, pool = _pool_from_json(obj, name)
    except (InputError, ValidationError):
        raise
    except pd.errors.EmptyDataError as exc:
        raise _empty(name) from exc
    except (ValueError, OSError, UnicodeDecodeError, KeyError, TypeError, EOFError) as exc:
        # pyarrow's ArrowInvalid derives from ValueError; openpyxl and zipfile raise these too.
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{name}: could not be read as {kind.upper()} ({reason}). "
                         f"Check the file is a valid {SUPPORTED} table.") from exc
    except Exception as exc:  # noqa: BLE001 - third-party readers raise their own types
        if type(exc).__module__.split(".")[0] in ("pyarrow", "openpyxl", "zipfile"):
            raise InputError(f"{name}: could not be read as {kind.upper()} ({exc}).") from exc
        raise
    if frame.shape[1] == 0:
        raise _empty(name)
    if len(frame) == 0:
        raise ValidationError([Issue(None, None, None, "the file has a header but no data rows")],
                              subject=f"pool file {name}")
    frame.columns = [str(c) for c in frame.columns]
    return TableRead(frame=frame, kind=kind, name=name, pool=pool)


def read_table(source: Source, *, filename: str | None = None) -> pd.DataFrame:
    """Read a tabular file or upload into a DataFrame.

    Parameters
    ----------
    source : str, path-like, bytes or binary file-like
        A path, or an upload's bytes / binary stream.
    filename : str, optional
        The upload's file name; its extension chooses the reader. Without it the extension of
        a path is used, and bytes are sniffed (Parquet ``PAR1``, xlsx zip, gzip, JSON ``{``/``[``,
        otherwise CSV).

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
        Columns as in the file (names as strings), rows in file order. For JSON, one row per
        asset of the pool.

    Raises
    ------
    InputError
        Missing file, unsupported extension (``.xls`` included), a file that cannot be parsed
        as its type, or JSON that is not a pool.
    ValidationError
        An empty file, or a table with a header and no data rows.
    """
    return read_source(source, filename=filename).frame

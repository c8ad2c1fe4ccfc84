"""Readers: a file or an upload → a pandas DataFrame, by extension or by sniffing its bytes.

CSV (also ``.csv.gz`` and a ``.zip`` holding one table) is read with pandas' pyarrow engine,
Parquet with pyarrow, Excel ``.xlsx`` with openpyxl, JSON with the standard library (the
request's pool shape). No format is parsed by hand.

Every reader checks the input limits of :mod:`engine.limits` before it hands the bytes to a
parser: the uncompressed size (a gzip stream and a zip's members are inflated under a cap), the
rows and columns (a CSV's header and line breaks are counted, a Parquet file's footer is read,
a zip's directory is inspected), the longest line or cell, the JSON nesting depth. A text file
may be UTF-8 (with or without BOM), UTF-16 (BOM), cp1252 or latin-1; the encoding used is
reported (:attr:`TableRead.encoding`).
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import IO, Any, Union

import numpy as np
import pandas as pd

from engine.errors import InputError, Issue, ValidationError
from engine.limits import (
    MAX_COLUMN_NAME_CHARS,
    Limits,
    check_zip,
    decode_text,
    limits,
    parse_json,
    read_gzip,
    read_zip_member,
    shorten,
    text_encoding,
    too_large,
)

__all__ = ["read_table", "Source", "TableRead", "read_source", "read_csv_bytes", "header_issues"]

Source = Union[str, PathLike, bytes, bytearray, memoryview, IO[bytes]]

_EXTENSIONS = {
    ".csv": "csv", ".txt": "csv", ".csv.gz": "csv.gz", ".gz": "csv.gz", ".zip": "zip",
    ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".xlsx": "xlsx",
}
SUPPORTED = ("CSV (.csv, .csv.gz, or one table in a .zip), Parquet (.parquet), JSON (.json) "
             "or Excel (.xlsx)")
_KIND_NAMES = {"csv": "CSV (.csv)", "csv.gz": "gzipped CSV (.csv.gz)", "zip": "a .zip of one table",
               "parquet": "Parquet (.parquet)", "xlsx": "Excel (.xlsx)", "json": "JSON (.json)"}
#: pyarrow's CSV reader needs a whole row inside one block (1 MiB by default); longer lines go to
#: pandas' C parser, which has no such limit.
_PYARROW_LINE = 512 * 1024
_SCAN_CHUNK = 16 * 2**20


@dataclass
class TableRead:
    """A table read from a source, what the source said about the pool (JSON only), and the
    text encoding it was read in (``None`` for the binary formats Parquet and Excel)."""

    frame: pd.DataFrame
    kind: str
    name: str
    pool: dict[str, Any] = field(default_factory=dict)
    encoding: str | None = None


def header_issues(names: list[Any]) -> list[Issue]:
    """Problems with a table's column names: too long (over :data:`MAX_COLUMN_NAME_CHARS`), or
    the same name twice.

    Parameters
    ----------
    names : list
        The header as in the file (``None`` for a blank header cell, which is not checked).

    Returns
    -------
    list of Issue
        One per offending column (``row`` None; the name cut short to 40 characters).
    """
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for position, raw in enumerate(names, start=1):
        if raw is None:
            continue
        name = str(raw)
        if len(name) > MAX_COLUMN_NAME_CHARS:
            issues.append(Issue(None, shorten(name), None,
                                f"column {position}'s name is {len(name):,} characters long; "
                                f"use at most {MAX_COLUMN_NAME_CHARS}"))
        if name in seen:
            issues.append(Issue(None, shorten(name), None,
                                f"column name appears twice (columns {seen[name]} and {position}); "
                                "rename or remove one"))
        else:
            seen[name] = position
    return issues


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
        return "zip"  # an .xlsx workbook or a zip of one table; told apart by its members
    if head.startswith(b"\x1f\x8b"):
        return "csv.gz"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"{", b"["):
        return "json"
    return "csv"


def _load(source: Source, filename: str | None, lim: Limits) -> tuple[bytes | str, str]:
    """The source as bytes (upload) or a path string (file), and a display name.

    A file or upload larger than ``max_input_bytes`` is refused before it is read.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = filename or "upload"
        if len(data) > lim.max_input_bytes:
            raise too_large(name, what="the file", field="max_input_bytes", value=len(data), lim=lim)
        return data, name
    if isinstance(source, (str, PathLike)):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"File {str(path)!r} not found; check the path.")
        name = filename or path.name
        size = path.stat().st_size
        if size > lim.max_input_bytes:
            raise too_large(name, what="the file", field="max_input_bytes", value=size, lim=lim)
        return str(path), name
    read = getattr(source, "read", None)
    if read is None:
        raise InputError(f"Cannot read a pool from {type(source).__name__}; give a path, bytes or a binary file.")
    name = os.path.basename(str(filename or getattr(source, "name", None) or "upload"))
    data = read(lim.max_input_bytes + 1)
    if isinstance(data, str):
        data = data.encode()
    if len(data) > lim.max_input_bytes:
        raise too_large(name, what="the file", field="max_input_bytes", lim=lim)
    return bytes(data), name


def _empty(name: str, subject: str) -> ValidationError:
    return ValidationError([Issue(None, None, None, "the file is empty; upload a file with a header row and data rows")],
                           subject=f"{subject} {name}")


def _pool_from_json(obj: Any, name: str, lim: Limits, subject: str) -> tuple[pd.DataFrame, dict[str, Any]]:
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
                              subject=f"{subject} {name}")
    if len(assets) > lim.max_rows:
        raise too_large(name, what="the number of assets", field="max_rows", value=len(assets), lim=lim)
    keys: dict[str, None] = {}
    for asset in assets:
        keys.update(dict.fromkeys(asset))
        if len(keys) > lim.max_columns:
            raise too_large(name, what="the number of distinct asset fields", field="max_columns", lim=lim)
    issues = header_issues(list(keys))
    if issues:
        raise ValidationError(issues, subject=f"{subject} {name}")
    return pd.DataFrame.from_records(assets, columns=list(keys)), pool


# --------------------------------------------------------------------------- CSV

@dataclass(frozen=True)
class _CsvScan:
    """What a cheap pass over a CSV's bytes found, before any parser sees them."""

    data: bytes          # UTF-8, without a byte-order mark
    encoding: str        # the encoding the file was in
    longest: int         # bytes in the longest line


def _longest_line(data: bytes) -> tuple[int, int, int]:
    """(bytes in the longest line, its 0-based line number, number of line breaks), in chunks."""
    longest, where, count, previous = 0, 0, 0, -1
    view = memoryview(data)
    for start in range(0, len(data), _SCAN_CHUNK):
        chunk = np.frombuffer(view[start:start + _SCAN_CHUNK], dtype=np.uint8)
        breaks = np.flatnonzero(chunk == 10) + start
        if breaks.size:
            gaps = np.diff(breaks, prepend=previous) - 1
            i = int(np.argmax(gaps))
            if gaps[i] > longest:
                longest, where = int(gaps[i]), count + i
            count += breaks.size
            previous = int(breaks[-1])
    tail = len(data) - previous - 1
    if tail > longest:
        longest, where = tail, count
    return longest, where, count


def _header_names(header: bytes) -> list[str]:
    """A CSV header line's names as written (pandas' C parser: quotes honoured, no field-size
    limit, no ``NA`` conversion, duplicates not renamed)."""
    row = pd.read_csv(io.BytesIO(header), header=None, dtype=str, keep_default_na=False,
                      engine="c", nrows=1)
    return [str(v) for v in row.iloc[0].tolist()] if len(row) else []


def _scan_csv(raw: bytes, name: str, lim: Limits, subject: str) -> _CsvScan:
    """Decode, then check the header and the longest line of a CSV before it is parsed.

    Raises
    ------
    InputError
        Undecodable bytes; a header with more than ``max_columns`` columns; a line longer than
        its columns can hold at ``max_cell_chars`` characters (4 bytes each at most) a cell;
        more lines than ``max_rows``.
    ValidationError
        Column names over 256 characters or given twice; an empty file.
    """
    encoding = text_encoding(raw, name=name)
    if encoding == "utf-8":
        data = raw
    elif encoding == "utf-8-sig":
        data = raw[3:]
    else:  # cp1252, latin-1 or UTF-16 (whose codec drops the BOM): re-encoded for the parser
        try:
            data = raw.decode(encoding).encode("utf-8")
        except UnicodeDecodeError:  # a UTF-16 file whose bytes after the BOM are broken
            decode_text(raw, name=name)  # raises the message that names the offset
            raise
    end = data.find(b"\n")
    header = data[: end if end >= 0 else len(data)]
    if header.count(b",") + 1 > lim.max_columns:  # an upper bound: a quoted name may hold a comma
        raise too_large(name, what="the number of columns", field="max_columns",
                        value=header.count(b",") + 1, lim=lim)
    names = _header_names(header)
    if not any(n.strip() for n in names):
        raise _empty(name, subject)
    issues = header_issues(names)
    if issues:
        raise ValidationError(issues, subject=f"{subject} {name}")
    longest, line, n_lines = _longest_line(data)
    line_cap = len(names) * (4 * lim.max_cell_chars + 3)
    if longest > line_cap:
        raise too_large(name, what=(f"line {line + 1:,} is {longest:,} bytes long, more than its "
                                    f"{len(names):,} columns can hold: a cell"),
                        field="max_cell_chars", lim=lim)
    rows = n_lines - (1 if data.endswith(b"\n") else 0)  # an upper bound: blank lines count
    if rows > lim.max_rows:
        raise too_large(name, what="the number of rows", field="max_rows", value=rows, lim=lim)
    return _CsvScan(data=data, encoding=encoding, longest=longest)


def _parse_csv(scan: _CsvScan) -> pd.DataFrame:
    handle = io.BytesIO(scan.data)
    if scan.longest < _PYARROW_LINE:
        return pd.read_csv(handle, engine="pyarrow")
    return pd.read_csv(handle, engine="c")


def read_csv_bytes(raw: bytes, *, name: str, subject: str = "file") -> tuple[pd.DataFrame, str]:
    """Read CSV bytes within the limits: see :func:`read_source`.

    Parameters
    ----------
    raw : bytes
        The file's bytes (decompressed), in any encoding :func:`engine.limits.text_encoding` finds.
    name : str
        The file as the user knows it.
    subject : str, default "file"
        What the file is, for messages ("pool file", "price file").

    Returns
    -------
    frame : DataFrame of shape (n_rows, n_columns)
    encoding : str
        The encoding the bytes were in.

    Raises
    ------
    InputError, ValidationError
        As :func:`read_source`.
    """
    lim = limits()
    if not raw or raw.isspace():
        raise _empty(name, subject)
    scan = _scan_csv(raw, name, lim, subject)
    try:
        frame = _parse_csv(scan)
    except pd.errors.EmptyDataError as exc:
        raise _empty(name, subject) from exc
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise _unreadable(name, "csv", exc) from exc
    _check_cells(frame, name, lim, proven=scan.longest <= lim.max_cell_chars)
    return frame, scan.encoding


# --------------------------------------------------------------------------- checks

def _unreadable(name: str, kind: str, exc: BaseException) -> InputError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return InputError(f"{name}: could not be read as {kind.upper()} ({shorten(reason, 300)}). "
                      f"Check the file is a valid {SUPPORTED} table.")


def _check_cells(frame: pd.DataFrame, name: str, lim: Limits, *, proven: bool) -> None:
    """Refuse a text cell longer than ``max_cell_chars`` (skipped when the scan proved none is)."""
    if proven:
        return
    for position, column in enumerate(frame.columns):
        values = frame.iloc[:, position]
        if values.dtype.kind in "biufcmM":
            continue
        try:
            lengths = values.str.len().fillna(0).to_numpy(dtype=np.int64)
        except AttributeError:  # an object column without a single string
            continue
        if lengths.size and lengths.max() > lim.max_cell_chars:
            row = int(np.argmax(lengths)) + 1
            raise too_large(name, what=f"the cell in row {row:,}, column {shorten(column)!r},",
                            field="max_cell_chars", value=int(lengths.max()), lim=lim)


def _check_shape(n_rows: int, n_columns: int, name: str, lim: Limits) -> None:
    if n_columns > lim.max_columns:
        raise too_large(name, what="the number of columns", field="max_columns", value=n_columns, lim=lim)
    if n_rows > lim.max_rows:
        raise too_large(name, what="the number of rows", field="max_rows", value=n_rows, lim=lim)


# --------------------------------------------------------------------------- Parquet, Excel, zip

def _read_parquet(handle: Any, name: str, lim: Limits, subject: str) -> pd.DataFrame:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(handle)
    meta = pf.metadata
    _check_shape(meta.num_rows, meta.num_columns, name, lim)
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if size > lim.max_input_bytes:
        raise too_large(name, what="the uncompressed data", field="max_input_bytes", value=size, lim=lim)
    names = pf.schema_arrow.names
    issues = header_issues(names)
    if issues:
        raise ValidationError(issues, subject=f"{subject} {name}")
    frame = pf.read().to_pandas()
    _check_cells(frame, name, lim, proven=False)
    return frame


def _read_xlsx(zf: Any, source: bytes | str, name: str, lim: Limits, subject: str) -> pd.DataFrame:
    """An Excel workbook's first sheet; the zip's directory is checked before openpyxl opens it
    (and :mod:`zipfile` never inflates a member past the size its directory declares)."""
    check_zip(zf, name=name, limit_field="max_xlsx_bytes")
    with pd.ExcelFile(source if isinstance(source, str) else io.BytesIO(source), engine="openpyxl") as book:
        sheet = book.sheet_names[0]
        head = pd.read_excel(book, sheet_name=sheet, header=None, nrows=1)
        names = [None if pd.isna(v) else v for v in head.iloc[0].tolist()] if len(head) else []
        _check_shape(0, len(names), name, lim)
        issues = header_issues(names)
        if issues:
            raise ValidationError(issues, subject=f"{subject} {name}")
        frame = pd.read_excel(book, sheet_name=sheet)
    _check_shape(len(frame), frame.shape[1], name, lim)
    _check_cells(frame, name, lim, proven=False)
    return frame


def _is_workbook(zf: Any) -> bool:
    names = set(zf.namelist())
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _read_zip(source: bytes | str, name: str, lim: Limits, subject: str, *,
              declared: str | None) -> tuple[pd.DataFrame, str, dict[str, Any], str | None]:
    """A workbook, or a zip of exactly one table (read by its member's extension)."""
    with zipfile.ZipFile(source if isinstance(source, str) else io.BytesIO(source)) as zf:
        if declared == "xlsx" or (declared is None and _is_workbook(zf)):
            if not _is_workbook(zf):
                raise InputError(f"{name}: not an Excel workbook (no xl/ part). Save it as .xlsx or CSV.")
            return _read_xlsx(zf, source, name, lim, subject), "xlsx", {}, None
        check_zip(zf, name=name)
        members = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
        if len(members) != 1 or _kind_from_name(members[0].filename) in (None, "zip"):
            listing = ", ".join(shorten(i.filename) for i in members[:5]) or "nothing"
            raise InputError(f"{name}: a .zip must hold exactly one table file ({SUPPORTED}); "
                             f"it holds {listing}.")
        inner = members[0]
        content = read_zip_member(zf, member=inner, name=name)
    label = f"{name}/{os.path.basename(inner.filename)}"
    read = read_source(content, filename=label, subject=subject)
    return read.frame, read.kind, read.pool, read.encoding


# --------------------------------------------------------------------------- entry points

def read_source(source: Source, *, filename: str | None = None, subject: str = "pool file",
                kinds: tuple[str, ...] | None = None) -> TableRead:
    """Read a table (and, for JSON, the pool's own fields) within the input limits.

    Parameters
    ----------
    source : str, path-like, bytes or binary file-like
        A path, or an upload's bytes / binary stream.
    filename : str, optional
        The upload's file name; its extension chooses the reader (see :func:`read_table`).
    subject : str, default "pool file"
        What the file is, for messages.
    kinds : tuple of str, optional
        The kinds accepted (of ``csv``, ``csv.gz``, ``zip``, ``parquet``, ``xlsx``, ``json``);
        default all. Another kind is refused before it is read.

    Returns
    -------
    TableRead
        The frame, the kind read (``csv``, ``csv.gz``, ``parquet``, ``xlsx``, ``json``), the
        file's name, the JSON pool's fields and the text encoding used (CSV and JSON).

    Raises
    ------
    InputError
        As :func:`read_table`, and any input beyond a limit of :mod:`engine.limits` (the
        message names the limit and its setting).
    ValidationError
        An empty file, a header without data rows, column names over 256 characters or given
        twice.
    """
    lim = limits()
    data, name = _load(source, filename, lim)
    kind = _kind_from_name(filename) if filename else (
        _kind_from_name(data) if isinstance(data, str) else None)
    size = os.path.getsize(data) if isinstance(data, str) else len(data)
    if size == 0:
        raise _empty(name, subject)
    if kind is None:
        if isinstance(data, str):
            with open(data, "rb") as fh:
                kind = _sniff(fh.read(512))
        else:
            kind = _sniff(data[:512])
    if kinds is not None and kind not in kinds:
        raise InputError(f"{name}: unsupported file type ({kind}); upload "
                         f"{' or '.join(_KIND_NAMES[k] for k in kinds)}.")
    pool: dict[str, Any] = {}
    encoding: str | None = None
    try:
        if kind in ("zip", "xlsx"):
            frame, kind, pool, encoding = _read_zip(data, name, lim, subject,
                                                    declared="xlsx" if kind == "xlsx" else None)
        elif kind == "parquet":
            frame = _read_parquet(data if isinstance(data, str) else io.BytesIO(data), name, lim, subject)
        else:
            if isinstance(data, str):
                data = Path(data).read_bytes()
            if kind == "csv.gz":
                data = read_gzip(data, name=name)
            if kind == "json":
                text, encoding = decode_text(data, name=name)
                frame, pool = _pool_from_json(parse_json(text, name=name), name, lim, subject)
                _check_cells(frame, name, lim, proven=False)
            else:
                frame, encoding = read_csv_bytes(data, name=name, subject=subject)
    except (InputError, ValidationError):
        raise
    except pd.errors.EmptyDataError as exc:
        raise _empty(name, subject) from exc
    except (ValueError, OSError, UnicodeDecodeError, KeyError, TypeError, EOFError) as exc:
        # pyarrow's ArrowInvalid derives from ValueError; openpyxl and zipfile raise these too.
        raise _unreadable(name, kind, exc) from exc
    except Exception as exc:  # noqa: BLE001 - third-party readers raise their own types
        if type(exc).__module__.split(".")[0] in ("pyarrow", "openpyxl", "zipfile", "xml"):
            raise _unreadable(name, kind, exc) from exc
        raise
    if frame.shape[1] == 0:
        raise _empty(name, subject)
    if len(frame) == 0:
        raise ValidationError([Issue(None, None, None, "the file has a header but no data rows")],
                              subject=f"{subject} {name}")
    frame.columns = [str(c) for c in frame.columns]
    return TableRead(frame=frame, kind=kind, name=name, pool=pool, encoding=encoding)


def read_table(source: Source, *, filename: str | None = None) -> pd.DataFrame:
    """Read a tabular file or upload into a DataFrame.

    Parameters
    ----------
    source : str, path-like, bytes or binary file-like
        A path, or an upload's bytes / binary stream.
    filename : str, optional
        The upload's file name; its extension chooses the reader. Without it the extension of
        a path is used, and bytes are sniffed (Parquet ``PAR1``, zip — an xlsx workbook or a
        zip of one table —, gzip, JSON ``{``/``[``, otherwise CSV).

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
        Columns as in the file (names as strings), rows in file order. For JSON, one row per
        asset of the pool.

    Raises
    ------
    InputError
        Missing file, unsupported extension (``.xls`` included), a file that cannot be parsed
        as its type, JSON that is not a pool, undecodable text (the byte offset is named), or
        an input beyond a limit of :mod:`engine.limits`.
    ValidationError
        An empty file, a table with a header and no data rows, column names over 256
        characters or given twice.
    """
    return read_source(source, filename=filename).frame

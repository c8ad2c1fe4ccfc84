"""Input limits: how much a file may hold before StressLab refuses it, and the bounded readers.

A file a user sends can be small on disk and huge once opened: a gzip stream or a zip member
(an ``.xlsx`` sheet, its ``sharedStrings.xml``, a skops model's ``schema.json``) that inflates
a thousandfold, a CSV whose one cell or one header holds tens of megabytes, JSON nested
thousands deep. Every reader checks these limits *before* it hands the bytes to a parser
(pyarrow, openpyxl, skops, :mod:`json`), so a hostile file is refused in well under two seconds
and a few megabytes of memory, with a message that names the limit and the setting that
raises it.

Settings (environment variables, read at each call, so a site or a test can change them):

=================================  =========  ================================================
Setting                            Default    What it bounds
=================================  =========  ================================================
``STRESSLAB_MAX_INPUT_MB``         1024       Uncompressed MiB of one input (file, gzip, zip).
``STRESSLAB_MAX_XLSX_MB``          256        Uncompressed MiB of one Excel workbook.
``STRESSLAB_MAX_ROWS``             5,000,000  Data rows of one table.
``STRESSLAB_MAX_COLUMNS``          2,000      Columns of one table.
``STRESSLAB_MAX_CELL_CHARS``       32,767     Characters in one cell.
``STRESSLAB_MAX_JSON_DEPTH``       64         Nesting depth of a JSON document.
``STRESSLAB_MAX_MODEL_MB``         512        Uncompressed MiB of one skops model file.
``STRESSLAB_MAX_MODEL_SCHEMA_MB``  32         Uncompressed MiB of its ``schema.json``.
``STRESSLAB_MAX_ZIP_MEMBERS``      10,000     Members of one zip container.
``STRESSLAB_MAX_RATIO``            100        Inflated / compressed size of a stream.
=================================  =========  ================================================

Why these defaults: 1 GiB holds a 5,000,000-loan CSV tape (a 1,000,000-loan native tape is
about 100 MiB) with room for wide layouts. Five million rows is five times the largest
benchmark pool. openpyxl builds a Python object per cell, so a workbook gets a lower bound than
CSV: 256 MiB of sheet XML is some 400,000 loans, and larger tapes belong in CSV or Parquet.
2,000 columns is more than ten times the widest tape we know (Lending Club's full loan export
has about 150 columns). 32,767 characters is Excel's own limit for a cell. Depth 64
is ten times what a pool or scenario document needs. A 100-tree random forest saved with skops
is some 7 MiB; 512 MiB leaves ample room, while its ``schema.json`` (the object graph; the arrays
sit in separate members) is about 2.3 MiB, so 32 MiB (a 1,400-tree forest) bounds the part skops
turns into Python objects. The ratio limit of 100 is Apache POI's long-standing zip-bomb guard (its
``ZipSecureFile`` minimum inflate ratio of 0.01); loan tapes compress three to ten times. It
applies to streams larger than :data:`RATIO_GRACE_BYTES`, so a small, very regular member (an
empty sheet, a style part) never trips it.

References
----------
Apache POI, ``org.apache.poi.openxml4j.util.ZipSecureFile`` (zip-bomb limits).
Microsoft, "Excel specifications and limits" (32,767 characters per cell).
RFC 8259, The JavaScript Object Notation (JSON) Data Interchange Format, section 9 (limits on
nesting depth are allowed).
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from engine.errors import InputError

__all__ = [
    "MiB",
    "Limits",
    "SETTINGS",
    "RATIO_GRACE_BYTES",
    "MAX_COLUMN_NAME_CHARS",
    "limits",
    "too_large",
    "shorten",
    "text_encoding",
    "decode_text",
    "parse_json",
    "json_depth",
    "read_gzip",
    "check_zip",
    "read_zip_member",
]

MiB = 2**20
#: Streams that inflate to less than this are never refused for their compression ratio.
RATIO_GRACE_BYTES = 16 * MiB
#: Longest column name accepted (a plausibility bound on a tape's header; not a setting).
MAX_COLUMN_NAME_CHARS = 256
_CHUNK = MiB


@dataclass(frozen=True)
class Limits:
    """The input limits in force; see the module docstring for each default and why.

    Attributes
    ----------
    max_input_bytes : int
        Uncompressed bytes of one input, bytes (``STRESSLAB_MAX_INPUT_MB`` × 2**20).
    max_xlsx_bytes : int
        Uncompressed bytes of one ``.xlsx`` workbook, bytes (``STRESSLAB_MAX_XLSX_MB``).
    max_rows : int
        Data rows of one table (``STRESSLAB_MAX_ROWS``).
    max_columns : int
        Columns of one table (``STRESSLAB_MAX_COLUMNS``).
    max_cell_chars : int
        Characters in one cell (``STRESSLAB_MAX_CELL_CHARS``).
    max_json_depth : int
        Nesting depth of a JSON document; ``{}`` and ``[]`` at the top are depth 1
        (``STRESSLAB_MAX_JSON_DEPTH``).
    max_model_bytes : int
        Uncompressed bytes of a skops model file, bytes (``STRESSLAB_MAX_MODEL_MB``).
    max_model_schema_bytes : int
        Uncompressed bytes of a skops ``schema.json``, bytes (``STRESSLAB_MAX_MODEL_SCHEMA_MB``).
    max_zip_members : int
        Members of one zip container (``STRESSLAB_MAX_ZIP_MEMBERS``).
    max_ratio : int
        Uncompressed / compressed size of a gzip stream or a zip member beyond
        :data:`RATIO_GRACE_BYTES` (``STRESSLAB_MAX_RATIO``).
    """

    max_input_bytes: int = 1024 * MiB
    max_xlsx_bytes: int = 256 * MiB
    max_rows: int = 5_000_000
    max_columns: int = 2_000
    max_cell_chars: int = 32_767
    max_json_depth: int = 64
    max_model_bytes: int = 512 * MiB
    max_model_schema_bytes: int = 32 * MiB
    max_zip_members: int = 10_000
    max_ratio: int = 100


#: Each limit's setting (environment variable) and the unit its value is given in (bytes per unit).
SETTINGS: dict[str, tuple[str, int]] = {
    "max_input_bytes": ("STRESSLAB_MAX_INPUT_MB", MiB),
    "max_xlsx_bytes": ("STRESSLAB_MAX_XLSX_MB", MiB),
    "max_rows": ("STRESSLAB_MAX_ROWS", 1),
    "max_columns": ("STRESSLAB_MAX_COLUMNS", 1),
    "max_cell_chars": ("STRESSLAB_MAX_CELL_CHARS", 1),
    "max_json_depth": ("STRESSLAB_MAX_JSON_DEPTH", 1),
    "max_model_bytes": ("STRESSLAB_MAX_MODEL_MB", MiB),
    "max_model_schema_bytes": ("STRESSLAB_MAX_MODEL_SCHEMA_MB", MiB),
    "max_zip_members": ("STRESSLAB_MAX_ZIP_MEMBERS", 1),
    "max_ratio": ("STRESSLAB_MAX_RATIO", 1),
}


def limits() -> Limits:
    """The limits in force now: each setting from the environment, else its default.

    Returns
    -------
    Limits

    Raises
    ------
    InputError
        If a setting is not a positive whole number; the message names it.
    """
    values: dict[str, int] = {}
    for f in fields(Limits):
        env, unit = SETTINGS[f.name]
        raw = os.environ.get(env, "").strip()
        if not raw:
            continue
        try:
            number = int(raw.replace("_", ""))
        except ValueError:
            number = 0
        if number <= 0:
            raise InputError(f"{env}={raw!r} is not a positive whole number; "
                             f"unset it to use the default ({f.default // unit}).")
        values[f.name] = number * unit
    return Limits(**values)


def _shown(field_name: str, value: int) -> str:
    if SETTINGS[field_name][1] == MiB:
        return f"{value / MiB:,.0f} MiB"
    return f"{value:,}"


def too_large(name: str, *, what: str, field: str, value: int | None = None,
              lim: Limits | None = None) -> InputError:
    """The error for an input beyond one limit: names the file, the limit and its setting.

    Parameters
    ----------
    name : str
        The file as the user knows it.
    what : str
        What exceeded the limit ("uncompressed size", "columns", …).
    field : str
        The :class:`Limits` attribute that was exceeded (a key of :data:`SETTINGS`).
    value : int, optional
        The offending quantity, when it is known (a bomb is refused before it is measured).
    lim : Limits, optional
        The limits checked; default :func:`limits`.

    Returns
    -------
    InputError
        To be raised by the caller.
    """
    lim = lim or limits()
    env, unit = SETTINGS[field]
    limit = getattr(lim, field)
    got = "" if value is None else f" ({_shown(field, value)})"
    return InputError(
        f"{name}: {what}{got} is over the limit of {_shown(field, limit)}; the file was refused. "
        f"If it is genuine, raise the limit with the setting {env} (an environment variable; "
        f"now {limit // unit}); otherwise check where the file came from."
    )


# --------------------------------------------------------------------------- text

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_TEXT_CHUNK = 16 * MiB
#: Control bytes no text table holds (C0 except tab, LF, CR; DEL).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text_encoding(data: bytes, *, name: str) -> str:
    """The encoding a text file is in: UTF-8 (with or without BOM), UTF-16 (BOM), cp1252 or latin-1.

    A byte-order mark decides; otherwise the bytes are checked as UTF-8 in 16 MiB steps (no
    copy of the whole file is made), and only a file that is not UTF-8 goes to
    charset-normalizer, restricted to cp1252 and latin-1, which also turns binary content away.

    Parameters
    ----------
    data : bytes
        The file's bytes (already decompressed and bounded by the caller).
    name : str
        The file as the user knows it (for messages).

    Returns
    -------
    str
        A Python codec name: ``utf-8``, ``utf-8-sig`` (UTF-8 with BOM), ``utf-16`` (with BOM),
        ``cp1252`` or ``latin-1``.

    Raises
    ------
    InputError
        If the bytes read as none of these encodings, or hold a NUL byte (a binary file); the
        message names the byte offset of the first undecodable byte.

    References
    ----------
    charset-normalizer, https://charset-normalizer.readthedocs.io (``from_bytes``).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            if codec == "utf-8-sig":
                offset = _utf8_error(data, start=len(bom))
                if offset is not None:
                    raise _undecodable(name, "utf-8", offset, data[offset])
            _no_nul(data, name, codec)
            return codec
    offset = _utf8_error(data)
    if offset is None:
        _no_nul(data, name, "utf-8")
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["cp1252", "latin_1"], explain=False).best()
    if best is not None:
        _no_nul(data, name, "cp1252")
        return str(best.encoding).replace("_", "-")
    # charset-normalizer needs a fair share of plain text to judge; a short cp1252 file that
    # decodes strictly and holds no control byte is still read.
    if _CONTROL.search(data) is None:
        try:
            data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            return "cp1252"
    raise _undecodable(name, "utf-8", offset, data[offset])


def decode_text(data: bytes, *, name: str) -> tuple[str, str]:
    """Decode a text file in the encoding :func:`text_encoding` finds.

    Parameters
    ----------
    data : bytes
        The file's bytes (already decompressed and bounded by the caller).
    name : str
        The file as the user knows it (for messages).

    Returns
    -------
    text : str
        The decoded text, without a byte-order mark.
    encoding : str
        The encoding used (see :func:`text_encoding`).

    Raises
    ------
    InputError
        As :func:`text_encoding`; the message names the byte offset of the first undecodable
        byte.
    """
    encoding = text_encoding(data, name=name)
    try:
        return data.decode(encoding).removeprefix("\ufeff"), encoding
    except UnicodeDecodeError as exc:  # a UTF-16 file whose bytes after the BOM are broken
        raise _undecodable(name, encoding, exc.start, data[exc.start]) from exc


def _utf8_error(data: bytes, *, start: int = 0) -> int | None:
    """Offset of the first byte that is not valid UTF-8, or None; checked in 16 MiB steps."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    for at in range(start, len(data), _TEXT_CHUNK):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(data[at:at + _TEXT_CHUNK], final=at + _TEXT_CHUNK >= len(data))
        except UnicodeDecodeError as exc:
            return at - pending + exc.start
    return None


def _no_nul(data: bytes, name: str, codec: str) -> None:
    """Refuse a NUL character (binary content); in UTF-16 one is two zero bytes on a boundary."""
    if codec != "utf-16":
        nul = data.find(b"\x00")
    else:
        units = np.frombuffer(data, dtype=np.uint16, count=len(data) // 2)
        zeros = np.flatnonzero(units == 0)
        nul = int(zeros[0]) * 2 if zeros.size else -1
    if nul >= 0:
        raise _binary(name, nul)


def _undecodable(name: str, codec: str, offset: int, byte: int) -> InputError:
    if codec == "utf-8":
        why = "and the file does not read as cp1252 or latin-1 either"
    else:
        why = f"though the file starts with a {codec.upper()} byte-order mark"
    return InputError(
        f"{name}: cannot be read as text: the byte 0x{byte:02x} at offset {offset:,} is not valid "
        f"{codec.upper()}, {why}. Save it as UTF-8 (Excel: 'CSV UTF-8') and upload it again."
    )


def _binary(name: str, offset: int) -> InputError:
    return InputError(f"{name}: holds a NUL byte at offset {offset:,}: it is a binary file, not text. "
                      "Save the table as UTF-8 CSV and upload it again.")


# --------------------------------------------------------------------------- JSON

def json_depth(obj: Any, *, stop: int | None = None) -> int:
    """Nesting depth of parsed JSON: a scalar is 0, ``[]`` or ``{}`` is 1, ``[[1]]`` is 2.

    Breadth-first, one level at a time (no recursion), so any depth is measured safely.

    Parameters
    ----------
    obj : any
        A value :func:`json.loads` returned.
    stop : int, optional
        Stop counting once the depth exceeds this (the answer is then ``stop + 1``).

    Returns
    -------
    int
    """
    depth = 0
    level = [obj] if type(obj) in _CONTAINERS else []
    while level and (stop is None or depth <= stop):
        depth += 1
        level = [child for node in level for child in (node.values() if type(node) is dict else node)
                 if type(child) in _CONTAINERS]
    return depth


_CONTAINERS = (dict, list)


def _no_duplicate_keys(name: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise InputError(f"{name}: the key {shorten(dup)!r} appears twice in one JSON object; "
                             "keep one of them.")
        return obj
    return hook


def _no_constant(name: str):
    def hook(token: str) -> Any:
        raise InputError(f"{name}: {token} is not a JSON number (RFC 8259); "
                         "give a finite number or null.")
    return hook


def shorten(text: Any, keep: int = 40) -> str:
    """``text`` cut to its first ``keep`` characters and an ellipsis when longer (for messages)."""
    text = str(text)
    return text if len(text) <= keep else text[:keep] + "…"


def parse_json(data: bytes | str, *, name: str) -> Any:
    """Parse a JSON document within the limits.

    Parameters
    ----------
    data : bytes or str
        The document; bytes are decoded with :func:`decode_text` (UTF-8 as RFC 8259 asks, a
        UTF-8 or UTF-16 byte-order mark honoured).
    name : str
        The file as the user knows it (for messages).

    Returns
    -------
    any
        The parsed value (dict, list, str, int, float, bool or None).

    Raises
    ------
    InputError
        If the document is larger than ``max_input_bytes``, nested deeper than
        ``max_json_depth``, not valid JSON (the line and column are named), holds a key twice in
        one object, or holds ``NaN``/``Infinity`` (not JSON). Never ``RecursionError``.
    """
    lim = limits()
    size = len(data) if isinstance(data, (bytes, bytearray)) else len(data.encode("utf-8", "surrogatepass"))
    if size > lim.max_input_bytes:
        raise too_large(name, what="the JSON document", field="max_input_bytes", value=size, lim=lim)
    text = decode_text(bytes(data), name=name)[0] if isinstance(data, (bytes, bytearray)) else data
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicate_keys(name),
                         parse_constant=_no_constant(name))
    except RecursionError as exc:
        raise too_large(name, what="the JSON nesting depth", field="max_json_depth", lim=lim) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}. "
                         "Fix the file (a JSON validator shows the spot) and try again.") from exc
    except ValueError as exc:  # an integer longer than Python's 4,300-digit conversion limit
        raise InputError(f"{name}: holds a number too long to read ({str(exc).split(':')[0]}); "
                         "give numbers of at most 4,300 digits.") from exc
    depth = json_depth(obj, stop=lim.max_json_depth)
    if depth > lim.max_json_depth:
        raise too_large(name, what="the JSON nesting depth", field="max_json_depth", lim=lim)
    return obj


# --------------------------------------------------------------------------- gzip and zip

def _ratio_cap(compressed: int, limit: int, lim: Limits) -> int:
    return min(limit, max(RATIO_GRACE_BYTES, compressed * lim.max_ratio))


def _bomb(name: str, *, what: str, compressed: int, cap: int, limit_field: str, lim: Limits) -> InputError:
    """The error for a stream that inflates past its cap: by size or by ratio."""
    if cap >= getattr(lim, limit_field):
        return too_large(name, what=f"{what} uncompressed", field=limit_field, lim=lim)
    return too_large(name, what=f"{what} inflates to more than {lim.max_ratio} times its "
                                f"{compressed:,} compressed bytes (a decompression bomb?): its "
                                "compression ratio", field="max_ratio", lim=lim)


def read_gzip(source: bytes | str | os.PathLike[str], *, name: str,
              limit_field: str = "max_input_bytes") -> bytes:
    """Decompress a gzip stream, refusing it as soon as it inflates past its cap.

    The cap is the smaller of the size limit and ``max_ratio`` × the compressed size (streams
    under :data:`RATIO_GRACE_BYTES` are exempt from the ratio). The stream is read in 1 MiB
    chunks and counted before anything is kept, so a bomb costs one chunk of memory and is
    refused without being decompressed to the end.

    Parameters
    ----------
    source : bytes or path
        The compressed bytes, or a file path.
    name : str
        The file as the user knows it (for messages).
    limit_field : str, default "max_input_bytes"
        The :class:`Limits` size that applies.

    Returns
    -------
    bytes
        The decompressed content (at most the cap).

    Raises
    ------
    InputError
        If the stream inflates past the cap, or is not a valid gzip stream.
    """
    lim = limits()
    compressed = len(source) if isinstance(source, (bytes, bytearray)) else os.path.getsize(source)
    cap = _ratio_cap(compressed, getattr(lim, limit_field), lim)

    def _open() -> gzip.GzipFile:
        if isinstance(source, (bytes, bytearray)):
            import io
            return gzip.GzipFile(fileobj=io.BytesIO(source), mode="rb")
        return gzip.GzipFile(filename=os.fspath(source), mode="rb")

    try:
        total = 0  # first pass: count only
        with _open() as fh:
            while chunk := fh.read(_CHUNK):
                total += len(chunk)
                if total > cap:
                    raise _bomb(name, what="the gzip stream", compressed=compressed, cap=cap,
                                limit_field=limit_field, lim=lim)
        with _open() as fh:
            return fh.read(cap + 1)[:cap]
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{name}: not a valid gzip file ({exc}); compress it again with gzip "
                         "or upload it uncompressed.") from exc


def check_zip(zf: zipfile.ZipFile, *, name: str, limit_field: str = "max_input_bytes") -> int:
    """Check a zip's central directory before anything is extracted.

    Parameters
    ----------
    zf : zipfile.ZipFile
        The open archive.
    name : str
        The file as the user knows it (for messages).
    limit_field : str, default "max_input_bytes"
        The :class:`Limits` size that bounds the members' total uncompressed size.

    Returns
    -------
    int
        The declared total uncompressed size, bytes.

    Raises
    ------
    InputError
        If it holds more than ``max_zip_members`` members, declares more than the size limit in
        total, or declares a member beyond ``max_ratio`` × its compressed size. The declared
        sizes can lie; :func:`read_zip_member` bounds what is actually inflated.
    """
    lim = limits()
    infos = zf.infolist()
    if len(infos) > lim.max_zip_members:
        raise too_large(name, what="the number of zip members", field="max_zip_members",
                        value=len(infos), lim=lim)
    total = sum(i.file_size for i in infos)
    if total > getattr(lim, limit_field):
        raise too_large(name, what="the archive's uncompressed size", field=limit_field, value=total, lim=lim)
    for info in infos:
        if info.file_size > _ratio_cap(info.compress_size, getattr(lim, limit_field), lim):
            raise _bomb(name, what=f"the member {shorten(info.filename)!r}", compressed=info.compress_size,
                        cap=_ratio_cap(info.compress_size, getattr(lim, limit_field), lim),
                        limit_field=limit_field, lim=lim)
    return total


def read_zip_member(zf: zipfile.ZipFile, *, member: str | zipfile.ZipInfo, name: str,
                    limit_field: str = "max_input_bytes") -> bytes:
    """Extract one member, reading at most its cap however large it claims to be.

    The cap is the smaller of the size limit and ``max_ratio`` × the member's compressed size
    (beyond :data:`RATIO_GRACE_BYTES`). :mod:`zipfile` itself never returns more than the size
    the directory declares; a member that inflates past that fails its CRC check.

    Parameters
    ----------
    zf : zipfile.ZipFile
    member : str or ZipInfo
    name : str
        The file as the user knows it (for messages).
    limit_field : str, default "max_input_bytes"
        The :class:`Limits` size that applies.

    Returns
    -------
    bytes

    Raises
    ------
    InputError
        If the member inflates past the cap, or is corrupt (its directory entry lied, its CRC
        does not match).
    """
    lim = limits()
    info = member if isinstance(member, zipfile.ZipInfo) else zf.getinfo(member)
    cap = _ratio_cap(info.compress_size, getattr(lim, limit_field), lim)
    out = bytearray()
    try:
        with zf.open(info) as fh:
            while chunk := fh.read(_CHUNK):
                out += chunk
                if len(out) > cap:
                    raise _bomb(name, what=f"the member {shorten(info.filename)!r}",
                                compressed=info.compress_size, cap=cap, limit_field=limit_field, lim=lim)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        raise InputError(f"{name}: the zip member {shorten(info.filename)!r} is corrupt ({exc}); "
                         "create the archive again.") from exc
    return bytes(out)

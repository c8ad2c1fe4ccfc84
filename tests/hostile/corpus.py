"""The hostile-file corpus: each file is built at test time in a temporary folder, never committed.

Every builder takes the folder and returns the path of the file it wrote. The bombs are small on
disk and huge once opened (``scale`` sets how huge; the tests use a scale that keeps the corpus
quick to build, ``benchmarks/bench_hostile.py`` the sizes reported in issue 9).
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pandas as pd

MiB = 2**20

#: A clean three-loan native tape; every hostile file below is this tape with one thing wrong.
HEADER = "asset_id,asset_class,balance,rate,term,age"
ROWS = ["L-1,auto_loan,10000,0.05,60,6", "L-2,auto_loan,20000,0.07,48,12", "L-3,credit_card,5000,0.19,36,3"]
#: Rows whose ids hold accented characters (for the encoding cases).
ACCENTED = ["Zürich-1,auto_loan,10000,0.05,60,6", "Besançon-2,auto_loan,20000,0.07,48,12",
            "Málaga-3,credit_card,5000,0.19,36,3"]


def _csv(rows: list[str], header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def _deflate_repeat(zf: zipfile.ZipFile, member: str, *, head: bytes, body: bytes, times: int,
                    tail: bytes) -> None:
    """Write ``head + body * times + tail`` as one member, streaming (compressed as ``zf`` is)."""
    with zf.open(member, "w", force_zip64=True) as fh:
        fh.write(head)
        for _ in range(times):
            fh.write(body)
        fh.write(tail)


# --------------------------------------------------------------------------- bombs

def xlsx_shared_strings_bomb(folder: Path, *, scale_mb: int = 200) -> Path:
    """A real workbook (a header only, as in issue 9) whose sharedStrings.xml inflates to ``scale_mb`` MiB.

    At ``scale_mb=2400`` the file is about 2.4 MB, the size issue 9 reports.
    """
    clean = io.BytesIO()
    pd.DataFrame(columns=HEADER.split(",")).to_excel(clean, index=False)
    path = folder / "bomb.xlsx"
    string = b"<si><t>" + b"A" * (MiB - 16) + b"</t></si>"
    with zipfile.ZipFile(clean) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            if info.filename == "xl/sharedStrings.xml":
                continue
            out.writestr(info, src.read(info))
        _deflate_repeat(out, "xl/sharedStrings.xml",
                        head=b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns='
                             b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main">',
                        body=string, times=scale_mb, tail=b"</sst>")
    return path


def gzip_bomb(folder: Path, *, scale_mb: int = 200) -> Path:
    """A ``.csv.gz`` tape whose one repeated row inflates to ``scale_mb`` MiB."""
    path = folder / "bomb.csv.gz"
    row = (ROWS[0] + "\n").encode()
    block = row * (MiB // len(row))
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write((HEADER + "\n").encode())
        for _ in range(scale_mb):
            fh.write(block)
    return path


def zip_bomb(folder: Path, *, scale_mb: int = 200) -> Path:
    """A ``.zip`` holding one CSV tape that inflates to ``scale_mb`` MiB."""
    path = folder / "bomb.zip"
    row = (ROWS[0] + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        _deflate_repeat(zf, "pool.csv", head=(HEADER + "\n").encode(),
                        body=row * (MiB // len(row)), times=scale_mb, tail=b"")
    return path


def zip_lying_directory(folder: Path, *, scale_mb: int = 20) -> Path:
    """A ``.zip`` whose directory declares its CSV member 1,000 bytes long; it inflates to ``scale_mb`` MiB.

    The declared sizes are patched in both headers (local and central directory), as a hostile
    tool would write them, to check that extraction is bounded by what is read, not by what is
    declared.
    """
    import struct

    row = (ROWS[0] + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("pool.csv", (HEADER + "\n").encode() + row * (scale_mb * MiB // len(row)))
    data = bytearray(buf.getvalue())
    struct.pack_into("<I", data, data.find(b"PK\x03\x04") + 22, 1000)   # local header
    struct.pack_into("<I", data, data.rfind(b"PK\x01\x02") + 24, 1000)  # central directory
    path = folder / "lying.zip"
    path.write_bytes(bytes(data))
    return path


def zip_many_members(folder: Path, *, members: int = 10_001) -> Path:
    """A ``.zip`` with more members than ``STRESSLAB_MAX_ZIP_MEMBERS`` allows."""
    path = folder / "members.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(members):
            zf.writestr(f"part{i}.csv", b"")
    return path


def skops_schema_bomb(folder: Path, *, scale_mb: int = 200) -> Path:
    """A skops model file whose schema.json inflates to ``scale_mb`` MiB (a list of small nodes).

    Built from a real skops dump of a fitted logistic regression, its schema.json replaced.
    """
    import numpy as np
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    clean = io.BytesIO(sio.dumps(model))
    node = json.dumps({"__class__": "int", "__module__": "builtins", "__loader__": "JsonNode",
                       "content": "1", "is_json": True}).encode() + b","
    body = node * (MiB // len(node))
    path = folder / "bomb.skops"
    with zipfile.ZipFile(clean) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            if info.filename != "schema.json":
                out.writestr(info.filename, src.read(info))
        _deflate_repeat(out, "schema.json",
                        head=b'{"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", '
                             b'"protocol": 2, "_skops_version": "0.13.0", "content": [',
                        body=body, times=scale_mb, tail=b'{"__class__": "int", "__module__": "builtins", '
                                                       b'"__loader__": "JsonNode", "content": "1", "is_json": true}]}')
    return path


# --------------------------------------------------------------------------- encodings

def latin1_csv(folder: Path) -> Path:
    path = folder / "latin1.csv"
    path.write_bytes(_csv(ACCENTED).encode("latin-1"))
    return path


def cp1252_csv(folder: Path) -> Path:
    """Ids holding the euro sign and typographic quotes (cp1252 only, not latin-1)."""
    rows = ["L€1,auto_loan,10000,0.05,60,6", "L‘2’,auto_loan,20000,0.07,48,12", ACCENTED[2]]
    path = folder / "cp1252.csv"
    path.write_bytes(_csv(rows).encode("cp1252"))
    return path


def utf16_csv(folder: Path) -> Path:
    path = folder / "utf16.csv"
    path.write_bytes(_csv(ACCENTED).encode("utf-16"))  # with BOM, little-endian (Excel's "Unicode text")
    return path


def utf8_bom_csv(folder: Path) -> Path:
    path = folder / "bom.csv"
    path.write_bytes(_csv(ACCENTED).encode("utf-8-sig"))
    return path


def undecodable_csv(folder: Path) -> Path:
    """Not UTF-8 (0x81 at byte 40), and 0x81 is undefined in cp1252; a NUL-free binary-ish file."""
    path = folder / "undecodable.csv"
    head = _csv(ROWS[:1]).encode()
    path.write_bytes(head[:40] + b"\x81\x8d\x8f\x90\x9d\x01\x02" + head[40:])
    return path


# --------------------------------------------------------------------------- malformed

def deep_json(folder: Path, *, depth: int = 100_000) -> Path:
    """A pool JSON whose metadata is ``depth`` nested lists (Python's parser recurses past 1,000)."""
    assets = [dict(zip(HEADER.split(","), r.split(","))) for r in ROWS]
    body = json.dumps({"pool_id": "deep", "pool_name": "deep", "assets": assets, "metadata": {"x": 0}})
    path = folder / f"deep{depth}.json"
    path.write_text(body.replace('{"x": 0}', "[" * depth + "]" * depth))
    return path


def big_cell_csv(folder: Path, *, cell_mb: int = 50) -> Path:
    """One asset_id of ``cell_mb`` MiB."""
    path = folder / "big_cell.csv"
    with path.open("wb") as fh:
        fh.write((HEADER + "\n").encode())
        fh.write(b"X" * (cell_mb * MiB))
        fh.write(b"," + ROWS[0].split(",", 1)[1].encode() + b"\n")
    return path


def million_columns_csv(folder: Path, *, columns: int = 1_000_000) -> Path:
    path = folder / "wide.csv"
    names = HEADER.split(",") + [f"c{i}" for i in range(columns - 6)]
    path.write_text(",".join(names) + "\n" + ",".join([ROWS[0]] + ["1"] * (columns - 6)) + "\n")
    return path


def duplicated_header_csv(folder: Path) -> Path:
    path = folder / "dup.csv"
    path.write_text(_csv([r + ",9999" for r in ROWS], header=HEADER + ",balance"))
    return path


def case_duplicated_header_csv(folder: Path) -> Path:
    path = folder / "dup_case.csv"
    path.write_text(_csv([r + ",9999" for r in ROWS], header=HEADER + ",Balance"))
    return path


def huge_balance_csv(folder: Path) -> Path:
    path = folder / "balance.csv"
    path.write_text(_csv(["L-1,auto_loan,1e300,0.05,60,6", *ROWS[1:]]))
    return path


def long_term_csv(folder: Path) -> Path:
    path = folder / "term.csv"
    path.write_text(_csv(["L-1,auto_loan,10000,0.05,10000,6", *ROWS[1:]]))
    return path


def long_column_name_csv(folder: Path, *, chars: int = 200_000) -> Path:
    path = folder / "long_name.csv"
    path.write_text(_csv([r + ",1" for r in ROWS], header=HEADER + "," + "n" * chars))
    return path


def json_true_balance(folder: Path) -> Path:
    """A JSON pool whose first balance is ``true`` (pandas would read it as 1.0)."""
    assets = [{"asset_id": f"L-{i}", "asset_class": "auto_loan", "balance": b, "rate": 0.05, "term": 60}
              for i, b in enumerate([True, 20000.0, 5000.0], start=1)]
    path = folder / "true.json"
    path.write_text(json.dumps({"pool_id": "t", "pool_name": "t", "assets": assets}))
    return path

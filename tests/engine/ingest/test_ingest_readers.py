"""Readers: every format round-trips a small pool; empty and unreadable files fail clearly."""

from __future__ import annotations

import gzip
import io
import json

import numpy as np
import pandas as pd
import pytest

from engine.ingest.models import ASSET_COLUMNS
from engine.errors import InputError, ValidationError
from engine.ingest import read_pool, read_table


def _write(frame: pd.DataFrame, path, kind: str) -> None:
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "csv.gz":
        frame.to_csv(path, index=False, compression="gzip")
    elif kind == "parquet":
        frame.to_parquet(path, index=False)
    elif kind == "xlsx":
        frame.to_excel(path, index=False)
    elif kind == "json":
        assets = json.loads(frame.to_json(orient="records"))
        path.write_text(json.dumps({"pool_id": "P-json", "pool_name": "JSON pool", "assets": assets,
                                    "cutoff_date": "2024-06-30", "metadata": {"desk": "abs"}}))


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "parquet", "xlsx", "json"])
def test_each_format_round_trips(native_frame, tmp_path, kind):
    path = tmp_path / f"pool.{kind}"
    _write(native_frame, path, kind)
    pool = read_pool(path)
    assert list(pool.frame.columns) == list(ASSET_COLUMNS)
    assert pool.frame["asset_id"].tolist() == ["M-1", "A-2", "C-3"]
    assert pool.frame["balance"].tolist() == [200_000.0, 15_000.0, 0.0]
    assert pool.frame["term"].tolist() == [360, 60, 24]
    assert pool.frame["rate_type"].tolist() == ["fixed", "floating", "fixed"]
    assert pool.frame["grade"].isna().tolist() == [True, False, True]
    assert pool.assumptions == []  # every value given, nothing filled
    assert pool.source_format == "native"
    for col, dtype in ASSET_COLUMNS.items():
        assert str(pool.frame[col].dtype) == ("string" if dtype == "string" else dtype), col


def test_json_pool_fields_are_kept(native_frame, tmp_path):
    path = tmp_path / "pool.json"
    _write(native_frame, path, "json")
    pool = read_pool(path)
    assert (pool.pool_id, pool.pool_name) == ("P-json", "JSON pool")
    assert pool.cutoff_date.isoformat() == "2024-06-30"
    assert pool.metadata["desk"] == "abs"


def test_whole_request_json(native_frame):
    assets = json.loads(native_frame.to_json(orient="records"))
    body = json.dumps({"request": {"pool": {"pool_id": "R1", "pool_name": "req", "assets": assets},
                                   "analysis_date": "2024-06-30"}}).encode()
    pool = read_pool(body, filename="request.json")
    assert pool.pool_id == "R1" and pool.n_assets == 3


@pytest.mark.parametrize("kind", ["csv", "parquet", "xlsx", "csv.gz"])
def test_upload_bytes_and_stream_are_sniffed(native_frame, tmp_path, kind):
    path = tmp_path / f"pool.{kind}"
    _write(native_frame, path, kind)
    data = path.read_bytes()
    by_sniff = read_table(data)
    by_name = read_table(io.BytesIO(data), filename=f"upload.{kind}")
    pd.testing.assert_frame_equal(by_sniff, by_name)
    assert len(by_sniff) == 3 and "asset_id" in by_sniff.columns


def test_empty_file_is_a_validation_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(ValidationError, match="empty"):
        read_pool(path)
    with pytest.raises(ValidationError, match="empty"):
        read_pool(b"", filename="upload.csv")


def test_header_only_file_has_no_data_rows(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("asset_id,asset_class,balance,rate,term\n")
    with pytest.raises(ValidationError, match="no data rows"):
        read_pool(path)


def test_unreadable_files_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_pool(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="could not be read as PARQUET"):
        read_pool(b"this is not parquet", filename="x.parquet")
    with pytest.raises(InputError, match="could not be read as XLSX"):
        read_pool(b"PK\x03\x04 broken zip", filename="x.xlsx")
    with pytest.raises(InputError, match=r"\.xlsx"):
        read_pool(b"anything", filename="old.xls")
    with pytest.raises(InputError, match="not a pool"):
        read_pool(json.dumps({"hello": 1}).encode(), filename="x.json")
    with pytest.raises(InputError, match="not valid JSON at line 1, column 2"):
        read_pool(b"{not json", filename="x.json")
    assert not issubclass(InputError, ValidationError)


def test_not_a_table_is_unrecognised():
    with pytest.raises(InputError, match="Known formats"):
        read_pool(b"just,some,words\n1,2,3\n", filename="x.csv")


def test_gzip_by_magic_bytes(native_frame):
    data = gzip.compress(native_frame.to_csv(index=False).encode())
    frame = read_table(data)
    assert frame["asset_id"].tolist() == ["M-1", "A-2", "C-3"]
    assert np.isclose(frame["balance"].sum(), 215_000.0)


def test_unknown_format_keyword_is_an_input_error(native_frame):
    with pytest.raises(InputError, match="valid: auto, native, lendingclub, loan-record"):
        read_pool(native_frame.to_csv(index=False).encode(), filename="x.csv", format="fannie")


def test_explicit_format_overrides_detection(native_frame):
    with pytest.raises(ValidationError) as info:
        read_pool(native_frame.to_csv(index=False).encode(), filename="x.csv", format="lendingclub")
    assert {i.column for i in info.value.issues} >= {"loan_amount", "interest_rate", "loan_status"}


def test_ingest_does_not_import_streamlit():
    import subprocess
    import sys
    code = "import sys, engine.ingest; sys.exit('streamlit' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_ingest_does_not_import_the_credit_engine():
    import subprocess
    import sys
    code = ("import sys, engine.ingest; "
            "sys.exit(any(m.startswith('engine.credit') for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0

"""engine.limits: the settings, the bounded decoders and the readers of model and data uploads
(mlrisk, market) that share them."""

from __future__ import annotations

import gzip
import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError, ValidationError
from engine.limits import (
    MiB,
    Limits,
    check_zip,
    decode_text,
    json_depth,
    limits,
    parse_json,
    read_gzip,
    read_zip_member,
)
from engine.market.data_io import read_positions_csv, read_prices_csv
from engine.mlrisk import read_table as read_ml_table
from engine.mlrisk._training import load_skops_model
from tests.hostile import corpus


# --------------------------------------------------------------------------- settings

def test_defaults_allow_the_million_loan_benchmark():
    lim = limits()
    assert lim == Limits()
    assert lim.max_rows == 5_000_000 and lim.max_rows >= 2_000_000
    assert (lim.max_input_bytes, lim.max_columns, lim.max_cell_chars) == (1024 * MiB, 2_000, 32_767)
    assert (lim.max_json_depth, lim.max_ratio, lim.max_model_schema_bytes) == (64, 100, 32 * MiB)


def test_settings_are_read_at_call_time(monkeypatch):
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "3")
    monkeypatch.setenv("STRESSLAB_MAX_ROWS", "2_000_000")
    assert limits().max_input_bytes == 3 * MiB
    assert limits().max_rows == 2_000_000


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5"])
def test_a_bad_setting_is_named(monkeypatch, value):
    monkeypatch.setenv("STRESSLAB_MAX_COLUMNS", value)
    with pytest.raises(InputError, match=f"STRESSLAB_MAX_COLUMNS='{value}' is not a positive whole number"):
        limits()


# --------------------------------------------------------------------------- text

@pytest.mark.parametrize(("data", "encoding"), [
    ("Zürich,€\n".encode(), "utf-8"),
    ("Zürich,€\n".encode("utf-8-sig"), "utf-8-sig"),
    ("Zürich,€\n".encode("utf-16"), "utf-16"),
    ("Zürich,€,“q”\n".encode("cp1252"), "cp1252"),
    (("name,city\n" + "Müller,Zürich\nGonçalves,São Paulo\nLefèvre,Orléans\n" * 20).encode("latin-1"),
     None),
])
def test_text_encodings_are_detected(data, encoding):
    text, used = decode_text(data, name="f.csv")
    assert used == (encoding or "cp1252")  # latin-1 letters read the same in cp1252
    assert "\ufeff" not in text
    assert text.split(",")[0] in ("Zürich", "name")


@pytest.mark.parametrize(("data", "fragment"), [
    (b"asset_id\nA\x81\x8d\x90\n", "byte 0x81 at offset 10 is not valid UTF-8"),
    (b"asset_id\nA\x00B\n", "NUL byte at offset 10"),
    ("a\x00".encode("utf-16"), "NUL byte at offset 4"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "byte 0x89 at offset 0"),
    (b"\xff\xfea\x00\xd8", "byte 0xd8 at offset 4 is not valid UTF-16, though the file starts with a UTF-16"),
    (b"a" * (16 * MiB - 1) + "é".encode() + b"\x00", "NUL byte at offset 16,777,217"),  # past a 16 MiB step
    ("Café,Zürich\n".encode("latin-1") * 20 + b"\x00", "NUL byte at offset 240"),
])
def test_undecodable_text_names_the_byte_offset(data, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(")):
        decode_text(data, name="f.csv")


# --------------------------------------------------------------------------- JSON

def test_json_depth_counts_levels():
    assert [json_depth(v) for v in (1, [], [[1]], {"a": [{"b": {}}]})] == [0, 1, 2, 4]
    assert json_depth(json.loads("[" * 500 + "]" * 500), stop=64) == 65


@pytest.mark.parametrize(("text", "fragment"), [
    ("[" * 65 + "]" * 65, "nesting depth is over the limit of 64; the file was refused"),
    ("[" * 200_000 + "]" * 200_000, "STRESSLAB_MAX_JSON_DEPTH"),  # past Python's recursion limit
    ('{"a": 1, "a": 2}', "the key 'a' appears twice"),
    ("[NaN]", "NaN is not a JSON number"),
    ('{"x": Infinity}', "Infinity is not a JSON number"),
    ("1" * 5000, "a number too long to read"),
    ('{"a": ', "not valid JSON at line 1, column 7"),
])
def test_parse_json_refuses_with_a_message(text, fragment):
    with pytest.raises(InputError, match=fragment):
        parse_json(text, name="f.json")


def test_parse_json_reads_within_limits(monkeypatch):
    assert parse_json("\ufeff".encode("utf-8") + b'{"a": [1, 2.5, null]}', name="f.json") == {"a": [1, 2.5, None]}
    assert parse_json("[" * 64 + "]" * 64, name="f.json") is not None
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "1")
    with pytest.raises(InputError, match="STRESSLAB_MAX_INPUT_MB"):
        parse_json(b"[" + b"1," * MiB + b"1]", name="f.json")


# --------------------------------------------------------------------------- gzip and zip

def test_read_gzip_returns_the_content():
    assert read_gzip(gzip.compress(b"a,b\n1,2\n"), name="t.csv.gz") == b"a,b\n1,2\n"
    with pytest.raises(InputError, match="not a valid gzip file"):
        read_gzip(b"\x1f\x8bnot gzip", name="t.csv.gz")


def test_read_gzip_refuses_a_bomb_by_ratio_and_by_size(tmp_path, monkeypatch):
    bomb = corpus.gzip_bomb(tmp_path, scale_mb=40)
    with pytest.raises(InputError, match="more than 100 times its") as err:
        read_gzip(bomb, name="bomb.csv.gz")
    assert "raise the limit with the setting STRESSLAB_MAX_RATIO (an environment variable; now 100)" \
        in str(err.value)
    monkeypatch.setenv("STRESSLAB_MAX_RATIO", "1000000")
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "20")
    with pytest.raises(InputError, match="uncompressed is over the limit of 20 MiB"):
        read_gzip(bomb.read_bytes(), name="bomb.csv.gz")
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "41")
    assert read_gzip(bomb, name="bomb.csv.gz") == gzip.decompress(bomb.read_bytes())  # within both limits


def test_a_lying_zip_directory_bounds_what_is_inflated(tmp_path):
    path = corpus.zip_lying_directory(tmp_path)
    with zipfile.ZipFile(path) as zf:
        assert check_zip(zf, name="lying.zip") == 1000  # declared; the member holds 20 MiB
        with pytest.raises(InputError, match="'pool.csv' is corrupt"):
            read_zip_member(zf, member="pool.csv", name="lying.zip")


def test_zip_member_count_and_total_size_are_checked(tmp_path, monkeypatch):
    with zipfile.ZipFile(corpus.zip_many_members(tmp_path, members=11)) as zf:
        monkeypatch.setenv("STRESSLAB_MAX_ZIP_MEMBERS", "10")
        with pytest.raises(InputError, match=r"zip members \(11\) is over the limit of 10"):
            check_zip(zf, name="m.zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("a.csv", b"x" * (2 * MiB))
    monkeypatch.setenv("STRESSLAB_MAX_INPUT_MB", "1")
    with zipfile.ZipFile(buf) as zf, pytest.raises(InputError, match=r"uncompressed size \(2 MiB\)"):
        check_zip(zf, name="big.zip")


# --------------------------------------------------------------------------- model files

def test_a_real_skops_model_still_loads():
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]))
    loaded = load_skops_model(sio.dumps(model), filename="m.skops")
    assert loaded.predict(np.array([[3.0]])).tolist() == [1]


def test_a_skops_schema_bomb_is_refused_before_skops_reads_it(tmp_path, monkeypatch):
    content = corpus.skops_schema_bomb(tmp_path, scale_mb=40).read_bytes()
    with pytest.raises(InputError, match="'schema.json' inflates to more than 100 times"):
        load_skops_model(content, filename="bomb.skops")
    monkeypatch.setenv("STRESSLAB_MAX_RATIO", "1000000")
    monkeypatch.setenv("STRESSLAB_MAX_MODEL_SCHEMA_MB", "8")
    with pytest.raises(InputError, match=r"schema.json .*\(40 MiB\) is over the limit of 8 MiB"):
        load_skops_model(content, filename="bomb.skops")
    with pytest.raises(InputError, match="not a zip archive"):
        load_skops_model(b"\x80\x04pickle", filename="m.pkl")


# --------------------------------------------------------------------------- mlrisk and market uploads

def test_mlrisk_upload_reads_legacy_encodings_and_meets_the_limits(monkeypatch):
    text = "région,y\n" + "Île-de-France,0\nProvence,1\n" * 5
    frame = read_ml_table(text.encode("cp1252"), filename="data.csv")
    assert list(frame.columns) == ["région", "y"] and frame["région"].iloc[0] == "Île-de-France"
    frame16 = read_ml_table(text.encode("utf-16"), filename="data.csv")
    pd.testing.assert_frame_equal(frame, frame16)
    with pytest.raises(ValidationError, match="column name appears twice"):
        read_ml_table(b"x,x,y\n1,2,0\n", filename="dup.csv")
    monkeypatch.setenv("STRESSLAB_MAX_ROWS", "3")
    with pytest.raises(InputError, match=r"number of rows \(10\) is over the limit of 3"):
        read_ml_table(text.encode(), filename="data.csv")


def test_mlrisk_upload_refuses_a_gzip_bomb(tmp_path):
    bomb = corpus.gzip_bomb(tmp_path, scale_mb=40).read_bytes()
    with pytest.raises(InputError, match="STRESSLAB_MAX_RATIO"):
        read_ml_table(bomb, filename="data.csv.gz")


def test_market_uploads_read_legacy_encodings_and_meet_the_limits(monkeypatch):
    prices = "date,Nestlé,Hermès\n2024-01-02,100,200\n2024-01-03,101,199\n"
    frame = read_prices_csv(prices.encode("cp1252"))
    assert list(frame.columns) == ["Nestlé", "Hermès"] and frame["Hermès"].iloc[-1] == 199.0
    positions = read_positions_csv("account,instrument,quantity\nfonds,Nestlé,10\n".encode("utf-16"))
    assert positions["instrument"].tolist() == ["Nestlé"]
    monkeypatch.setenv("STRESSLAB_MAX_COLUMNS", "2")
    with pytest.raises(InputError, match=r"number of columns \(3\) is over the limit of 2"):
        read_prices_csv(prices.encode())

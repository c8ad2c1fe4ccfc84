"""The bundled dataset, uploaded tables, and every kind of bad input refused with its reason."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from engine.errors import InputError, ValidationError
from engine.mlrisk import infer_task, load_default_dataset, prepare_data, read_table


def test_default_dataset_has_documented_names_and_published_figures():
    df = load_default_dataset()
    assert df.shape == (30000, 24)
    assert list(df.columns[:6]) == ["LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE", "PAY_0"]
    assert "PAY_2" in df and "BILL_AMT6" in df and "PAY_AMT6" in df and "ID" not in df
    assert int(df["default_payment_next_month"].sum()) == 6636        # 22.12 % of 30,000
    assert int((df["SEX"] == 1).sum()) == 11888                       # PROVENANCE.md split


def test_row_limit_is_a_seeded_sample():
    a = load_default_dataset(row_limit=500, seed=3)
    b = load_default_dataset(row_limit=500, seed=3)
    assert len(a) == 500
    pd.testing.assert_frame_equal(a, b)


def test_prepare_one_hot_encodes_text_and_stratifies(synthetic_frame):
    d = prepare_data(synthetic_frame, target="y", subgroups=["region"], test_size=0.25, seed=1)
    assert d.task == "classification" and d.positive_class == 1
    assert d.categorical_features == ("cat", "region") and d.numeric_features == ("x1", "x2")
    assert len(d.y_test) == 150 and len(d.y_train) == 450
    assert abs(d.y_test.mean() - synthetic_frame["y"].mean()) < 0.01


def test_task_inference():
    assert infer_task(pd.Series(np.arange(100.0))) == "regression"
    assert infer_task(pd.Series([0, 1] * 10)) == "classification"
    assert infer_task(pd.Series(["yes", "no"])) == "classification"


def _issues(err):
    return {(i.column, i.rule.split(";")[0]) for i in err.value.issues}


def test_missing_target_column():
    with pytest.raises(ValidationError, match="target column not in the table"):
        prepare_data(pd.DataFrame({"a": [1, 2], "b": [3, 4]}), target="y")


def test_constant_target_and_target_nan_and_all_nan_column():
    df = pd.DataFrame({"y": [1, 1, 1, np.nan], "a": [1.0, 2.0, 3.0, 4.0], "empty": [np.nan] * 4})
    with pytest.raises(ValidationError) as err:
        prepare_data(df, target="y")
    text = str(err.value)
    assert "target is constant" in text
    assert "1 missing value" in text and "row 4" in text
    assert "entirely missing" in text and "'empty'" in text
    assert "nothing was stored" in text


def test_unusable_types_are_refused():
    df = pd.DataFrame({
        "y": [0, 1] * 40,
        "when": pd.date_range("2024-01-01", periods=80),
        "ids": [f"id{i}" for i in range(80)],
        "ok": np.arange(80.0),
    })
    with pytest.raises(ValidationError) as err:
        prepare_data(df, target="y")
    cols = {i.column for i in err.value.issues}
    assert cols == {"when", "ids"}
    assert "derive a numeric feature" in str(err.value) and "80 levels" in str(err.value)


def test_multiclass_needs_positive_class():
    df = pd.DataFrame({"y": ["a", "b", "c"] * 20, "x": np.arange(60.0)})
    with pytest.raises(ValidationError, match="name a positive_class"):
        prepare_data(df, target="y")
    d = prepare_data(df, target="y", positive_class="b")
    assert set(np.unique(d.y_train)) == {0, 1}


def test_unknown_feature_and_subgroup_columns():
    df = pd.DataFrame({"y": [0, 1] * 10, "x": np.arange(20.0)})
    with pytest.raises(ValidationError) as err:
        prepare_data(df, target="y", features=["x", "nope"], subgroups=["gone"])
    assert {i.column for i in err.value.issues} == {"nope", "gone"}


@pytest.mark.parametrize(("content", "name", "match"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "picture.csv", "byte 0x89 at offset 0 is not valid UTF-8"),
    (b"just one column\n1\n2\n", "one.csv", "not a table"),
    (b"a,b\n", "header_only.csv", "header but no data rows"),
    (b"PAR1 not really", "fake.parquet", "could not be read as PARQUET"),
    (b"a,b\n1,2\n", "data.xlsx", "unsupported file type"),
])
def test_files_that_are_not_tables(content, name, match):
    with pytest.raises(InputError, match=match):
        read_table(content, filename=name)


def test_parquet_upload_round_trips(synthetic_frame):
    buf = io.BytesIO()
    synthetic_frame.to_parquet(buf)
    df = read_table(buf.getvalue(), filename="t.parquet")
    pd.testing.assert_frame_equal(df, synthetic_frame)

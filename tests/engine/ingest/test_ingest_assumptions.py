"""The assumption table: packaged values, fills reported, user overrides honoured."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.ingest.models import AssetClass
from engine.errors import ValidationError
from engine.ingest import AssumptionTable, load_assumptions, read_pool

POOL = ("asset_id,asset_class,balance,rate,term,grade,status,default_probability\n"
        "C1,consumer_loan,1000,0.10,36,B,performing,\n"
        "C2,consumer_loan,1000,0.10,36,B,performing,\n"
        "C3,consumer_loan,1000,0.10,36,B,delinquent,\n"
        "C4,consumer_loan,1000,0.10,36,,performing,0.02\n"
        "S1,sme_loan,5000,0.07,60,,performing,\n")


def test_packaged_table_covers_every_class_and_lc_grades():
    frame = load_assumptions().to_frame()
    generic = frame[frame["grade"].isna()]
    assert sorted(generic["asset_class"]) == sorted(c.value for c in AssetClass)
    consumer = frame[(frame["asset_class"] == "consumer_loan") & frame["grade"].notna()]
    assert sorted(consumer["grade"]) == list("ABCDEFG")
    cdr = consumer.set_index("grade")["default_probability"]
    assert cdr.is_monotonic_increasing  # riskier grade, higher CDR
    sources = frame[[c for c in frame.columns if c.endswith("_source")]].stack()
    assert sources.str.startswith("engine/ingest/data/ASSUMPTIONS.md#").all()


def test_every_packaged_source_key_is_documented():
    from importlib import resources
    doc = resources.files("engine.ingest").joinpath("data/ASSUMPTIONS.md").read_text()
    frame = load_assumptions().to_frame()
    keys = set(frame[[c for c in frame.columns if c.endswith("_source")]].stack().str.split("#").str[1])
    for key in keys:
        assert f'id="{key}"' in doc, key


def test_fills_are_reported_and_only_missing_values_are_filled():
    pool = read_pool(POOL.encode(), filename="pool.csv")
    f = pool.frame.set_index("asset_id")
    assert f.loc["C4", "default_probability"] == 0.02  # given: kept
    assert f.loc["C1", "default_probability"] == 0.045  # consumer B row
    assert f.loc["C3", "default_probability"] == 0.50  # delinquent CDR
    assert f.loc["S1", "default_probability"] == 0.03  # sme any-grade row
    cdr = sorted((a["asset_class"], a["grade"], a["value"], a["n_assets"], a["basis"])
                 for a in pool.assumptions if a["field"] == "default_probability")
    assert cdr == [
        ("consumer_loan", "B", 0.045, 2, "default_probability"),
        ("consumer_loan", "B", 0.5, 1, "delinquent_default_probability"),
        ("sme_loan", None, 0.03, 1, "default_probability"),
    ]
    ppy = [a for a in pool.assumptions if a["field"] == "prepayment_speed"]
    assert sum(a["n_assets"] for a in ppy) == 5
    assert all(set(a) >= {"field", "asset_class", "grade", "value", "source", "n_assets"}
               for a in pool.assumptions)
    assert all(a["source"].startswith("engine/ingest/data/ASSUMPTIONS.md#") for a in pool.assumptions)


def test_consumer_loan_without_a_grade_uses_the_any_grade_row():
    pool = read_pool(POOL.encode(), filename="pool.csv")
    row = [a for a in pool.assumptions if a["field"] == "recovery_lag" and a["asset_class"] == "consumer_loan"]
    assert [(a["grade"], a["value"], a["n_assets"]) for a in row] == [("B", 6, 3), (None, 6, 1)]


def test_user_override_is_honoured_and_named():
    table = load_assumptions().override(
        [{"asset_class": "consumer_loan", "grade": "B", "default_probability": 0.08},
         {"asset_class": "sme_loan", "recovery_lag": 9}],
        source="desk view 2024-06")
    pool = read_pool(POOL.encode(), filename="pool.csv", assumptions=table)
    f = pool.frame.set_index("asset_id")
    assert f.loc["C1", "default_probability"] == 0.08
    assert f.loc["C3", "default_probability"] == 0.50  # delinquent value not overridden
    assert f.loc["S1", "recovery_lag"] == 9
    assert f.loc["S1", "default_probability"] == 0.03  # untouched field keeps the packaged value
    cdr_b = [a for a in pool.assumptions if a["field"] == "default_probability" and a["grade"] == "B"
             and a["basis"] == "default_probability"]
    assert [(a["value"], a["source"]) for a in cdr_b] == [(0.08, "desk view 2024-06")]
    # the packaged table itself is unchanged
    assert load_assumptions().to_frame().query("asset_class == 'sme_loan'")["recovery_lag"].item() == 12


def test_user_table_from_csv(tmp_path):
    frame = load_assumptions().to_frame()
    frame = frame[frame["grade"].isna()][["asset_class", "grade", "prepayment_speed", "default_probability",
                                          "recovery_rate", "recovery_lag", "delinquent_default_probability"]]
    frame["prepayment_speed"] = 0.33
    frame["source"] = "my bank's model"
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    table = load_assumptions(path)
    pool = read_pool(POOL.encode(), filename="pool.csv", assumptions=table)
    assert (pool.frame["prepayment_speed"] == 0.33).all()
    assert {a["source"] for a in pool.assumptions} == {"my bank's model"}


def test_bad_tables_are_rejected():
    with pytest.raises(ValidationError) as info:
        load_assumptions().override([{"asset_class": "yacht", "prepayment_speed": 1.5}])
    assert {(i.row, i.column) for i in info.value.issues} == {(1, "asset_class"), (1, "prepayment_speed")}
    incomplete = pd.DataFrame({"asset_class": ["auto_loan"], "prepayment_speed": [0.1],
                               "default_probability": [0.02], "recovery_rate": [0.5], "recovery_lag": [3],
                               "delinquent_default_probability": [0.3]})
    with pytest.raises(ValidationError, match="any-grade"):
        AssumptionTable(incomplete)


def test_given_values_mean_no_fill(native_frame):
    pool = read_pool(native_frame.to_csv(index=False).encode(), filename="full.csv")
    assert pool.assumptions == []


def test_delinquent_cdr_floor_comes_from_the_any_grade_rows():
    table = load_assumptions()
    floor = table.delinquent_cdr()
    assert set(floor) == {c.value for c in AssetClass}
    assert floor["residential_mortgage"] == 0.20  # assumptions.csv, row 2
    assert floor["commercial_mortgage"] == 0.25
    changed = table.override([{"asset_class": "auto_loan", "delinquent_default_probability": 0.5}])
    assert changed.delinquent_cdr()["auto_loan"] == 0.5
    assert table.delinquent_cdr()["auto_loan"] != 0.5  # the original is left unchanged

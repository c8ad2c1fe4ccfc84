"""Column-wise validation: every problem in one error, with the right rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.errors import ValidationError
from engine.ingest import read_pool

BAD = """asset_id,asset_class,balance,rate,term,age,rate_type,status,prepayment_speed
A1,auto_loan,1000,0.05,60,10,fixed,performing,0.1
A2,boat_loan,1000,0.05,60,10,fixed,performing,0.1
A3,auto_loan,-5,0.05,60,10,fixed,performing,0.1
A4,auto_loan,1000,1.5,60,10,fixed,performing,0.1
A1,auto_loan,1000,0.05,12,12,fixed,performing,0.1
A6,auto_loan,abc,0.05,60,10,variable,late,2.5
A7,auto_loan,0,0.05,60,10,fixed,paid_off,
A8,auto_loan,,0.05,36.5,10,fixed,performing,0.1
"""


def _issues(data: str, **kw):
    with pytest.raises(ValidationError) as info:
        read_pool(data.encode(), filename="bad.csv", **kw)
    return info.value


def test_bad_file_lists_every_problem_with_its_row():
    err = _issues(BAD)
    got = [(i.row, i.column) for i in err.issues]
    assert got == [
        (1, "asset_id"),           # A1 also on row 5
        (2, "asset_class"),        # boat_loan
        (3, "balance"),            # negative
        (4, "rate"),               # 1.5 is outside [0, 1] (other rates are decimals: no percent)
        (5, "asset_id"),           # duplicate of row 1
        (5, "term"),               # term 12 not above age 12
        (6, "rate_type"),          # variable
        (6, "status"),             # late
        (6, "balance"),            # abc
        (6, "prepayment_speed"),   # 2.5 outside [0, 1]
        (8, "balance"),            # missing
        (8, "term"),               # 36.5 months
    ]
    by = {(i.row, i.column): i for i in err.issues}
    assert "rows 1, 5" in by[(1, "asset_id")].rule and "rows 1, 5" in by[(5, "asset_id")].rule
    assert "residential_mortgage" in by[(2, "asset_class")].rule  # valid values are listed
    assert by[(2, "asset_class")].value == "boat_loan"
    assert "paid_off" in by[(6, "status")].rule
    assert by[(6, "balance")].value == "abc" and "number" in by[(6, "balance")].rule
    assert "above age" in by[(5, "term")].rule
    assert "whole number" in by[(8, "term")].rule
    assert "12 problems found" in str(err)
    assert err.to_records()[0] == {"row": 1, "column": "asset_id", "value": "A1",
                                   "rule": by[(1, "asset_id")].rule}


def test_paid_off_with_zero_balance_is_valid():
    rows = BAD.splitlines()
    pool = read_pool(("\n".join([rows[0], rows[1], rows[7]]) + "\n").encode(), filename="ok.csv")
    assert pool.frame["status"].tolist() == ["performing", "paid_off"]
    assert pool.frame["balance"].tolist() == [1000.0, 0.0]


def test_missing_required_columns_are_reported_with_other_problems():
    data = "asset_id,asset_class,balance\nX1,auto_loan,-1\n"
    err = _issues(data)
    assert [(i.row, i.column) for i in err.issues] == [(None, "rate"), (None, "term"), (1, "balance")]
    assert all("required column missing" in i.rule for i in err.issues[:2])


def test_percent_columns_are_converted_with_a_warning():
    data = ("asset_id,asset_class,balance,rate,term,prepayment_speed\n"
            "X1,auto_loan,1000,5.25,60,0.1\nX2,auto_loan,1000,0,60,0.2\nX3,auto_loan,1000,12,60,0.3\n")
    pool = read_pool(data.encode(), filename="pct.csv")
    assert pool.frame["rate"].tolist() == pytest.approx([0.0525, 0.0, 0.12])
    assert pool.frame["prepayment_speed"].tolist() == pytest.approx([0.1, 0.2, 0.3])  # untouched
    assert any("'rate' read as percent" in w for w in pool.warnings)


def test_mixed_percent_and_decimal_is_not_guessed():
    data = "asset_id,asset_class,balance,rate,term\nX1,auto_loan,1000,0.05,60\nX2,auto_loan,1000,5,60\n"
    err = _issues(data)
    assert [(i.row, i.column, i.value) for i in err.issues] == [(2, "rate", 5)]


def test_recovery_and_loss_severity_derivation():
    data = ("asset_id,asset_class,balance,rate,term,recovery_rate,loss_severity\n"
            "X1,auto_loan,1000,0.05,60,0.4,\n"
            "X2,auto_loan,1000,0.05,60,,0.25\n"
            "X3,auto_loan,1000,0.05,60,0.3,0.7\n"
            "X4,auto_loan,1000,0.05,60,,\n")
    pool = read_pool(data.encode(), filename="rec.csv")
    f = pool.frame
    assert f["recovery_rate"].tolist() == pytest.approx([0.4, 0.75, 0.3, 0.55])  # X4 from the table
    assert f["loss_severity"].tolist() == pytest.approx([0.6, 0.25, 0.7, 0.45])
    filled = [(a["field"], a["n_assets"]) for a in pool.assumptions if a["field"] == "recovery_rate"]
    assert filled == [("recovery_rate", 1)]


def test_recovery_and_loss_severity_conflict():
    data = ("asset_id,asset_class,balance,rate,term,recovery_rate,loss_severity\n"
            "X1,auto_loan,1000,0.05,60,0.4,0.6000001\n"   # within 1e-6: fine
            "X2,auto_loan,1000,0.05,60,0.4,0.5\n")
    err = _issues(data)
    assert [(i.row, i.column) for i in err.issues] == [(2, "loss_severity")]
    assert "must equal 1" in err.issues[0].rule


def test_categorical_values_are_normalised():
    data = "asset_id,asset_class,balance,rate,term,status\nX1,Residential Mortgage,1000,0.05,360,Performing\n"
    pool = read_pool(data.encode(), filename="norm.csv")
    assert pool.frame[["asset_class", "status"]].iloc[0].tolist() == ["residential_mortgage", "performing"]


def test_many_bad_rows_are_all_kept():
    n = 1000
    frame = pd.DataFrame({"asset_id": [f"X{i}" for i in range(n)], "asset_class": "auto_loan",
                          "balance": -1.0, "rate": 0.05, "term": 60})
    with pytest.raises(ValidationError) as info:
        read_pool(frame.to_csv(index=False).encode(), filename="many.csv")
    assert len(info.value.issues) == n
    assert [i.row for i in info.value.issues] == list(range(1, n + 1))
    assert "… and 980 more" in str(info.value)


def test_non_finite_values_are_errors():
    frame = pd.DataFrame({"asset_id": ["X1", "X2"], "asset_class": "auto_loan",
                          "balance": [np.inf, 1.0], "rate": 0.05, "term": 60})
    with pytest.raises(ValidationError) as info:
        read_pool(frame.to_csv(index=False).encode(), filename="inf.csv")
    assert [(i.row, i.column) for i in info.value.issues] == [(1, "balance")]

"""Format detection, the real Lending Club tape, and the loan-record mapping."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from engine.errors import InputError, ValidationError
from engine.ingest import LC_DEFAULT_CUTOFF, detect_format, read_pool


@pytest.mark.parametrize("columns, expected", [
    (["asset_id", "asset_class", "balance", "rate", "term"], "native"),
    ([" Asset_ID ", "ASSET_CLASS", "balance", "rate", "term", "extra"], "native"),
    (["asset_class", "balance", "rate"], "native"),  # 3 of 5 key columns: still native
    (["loan_amount", "interest_rate", "term", "installment", "grade", "sub_grade", "issue_month",
      "loan_status", "balance"], "lendingclub"),
    (["LoanId", "CustomerId", "LoanAmount", "InterestRate", "LoanStartDate", "LoanMaturityDate",
      "LoanType", "RepaymentSchedule", "CurrentBalance", "DefaultRiskScore"], "loan-record"),
])
def test_detect_format(columns, expected):
    assert detect_format(columns) == expected


def test_detect_format_names_every_format_when_none_matches():
    with pytest.raises(InputError) as info:
        detect_format(["id", "amount", "coupon"])
    message = str(info.value)
    for name in ("native", "lendingclub", "loan-record", "asset_id", "loan_status", "LoanId"):
        assert name in message


@pytest.fixture(scope="module")
def lc_pool(lc_tape_path):
    return read_pool(lc_tape_path)


@pytest.fixture(scope="module")
def lc_tape(lc_tape_path):
    return pd.read_csv(lc_tape_path)


def test_lendingclub_tape_reads_to_10000_assets(lc_pool):
    assert lc_pool.source_format == "lendingclub"
    assert lc_pool.n_assets == 10_000
    assert lc_pool.metadata["tape_status_counts"] == {
        "Current": 9375, "Fully Paid": 447, "In Grace Period": 67, "Late (31-120 days)": 66,
        "Late (16-30 days)": 38, "Charged Off": 7,
    }
    # Canonical statuses: Current→performing, Fully Paid→paid_off, grace/late→delinquent
    # (67+66+38 = 171), Charged Off→default; one Current loan has balance 0 with its principal
    # fully repaid and is mapped to paid_off (9375-1, 447+1).
    assert lc_pool.frame["status"].value_counts().to_dict() == {
        "performing": 9374, "paid_off": 448, "delinquent": 171, "default": 7}


def test_lendingclub_balances(lc_pool, lc_tape):
    frame = lc_pool.frame
    charged = (lc_tape["loan_status"] == "Charged Off").to_numpy()
    # Every loan but the charged-off ones keeps the tape's balance exactly.
    assert (frame["balance"].to_numpy()[~charged] == lc_tape["balance"].to_numpy()[~charged]).all()
    assert frame["balance"][~charged].sum() == pytest.approx(lc_tape["balance"].sum(), abs=1e-6)
    # Charged-off loans (balance 0 on the tape) carry their charged-off principal.
    exposure = (lc_tape["loan_amount"] - lc_tape["paid_principal"])[charged]
    assert frame["balance"].to_numpy()[charged] == pytest.approx(exposure.to_numpy())
    assert lc_pool.total_balance == pytest.approx(lc_tape["balance"].sum() + exposure.sum())
    assert lc_tape["balance"].sum() == pytest.approx(144_589_166.10)


def test_lendingclub_fields(lc_pool, lc_tape):
    frame = lc_pool.frame
    assert lc_pool.cutoff_date == LC_DEFAULT_CUTOFF == dt.date(2018, 6, 30)
    assert frame["asset_id"].iloc[[0, 9999]].tolist() == ["LC-00001", "LC-10000"]
    assert any("no loan id" in w for w in lc_pool.warnings)
    ages = dict(zip(lc_tape["issue_month"], frame["age"]))
    assert ages == {"Jan-2018": 5, "Feb-2018": 4, "Mar-2018": 3}
    assert frame["rate"].iloc[0] == pytest.approx(0.1407)  # 14.07 % on the tape
    assert set(frame["term"]) == {36, 60}
    assert set(frame["asset_class"]) == {"consumer_loan"}
    assert set(frame["rate_type"]) == {"fixed"}
    assert frame["grade"].value_counts().to_dict() == {
        "B": 3037, "C": 2653, "A": 2459, "D": 1446, "E": 335, "F": 58, "G": 12}
    assert frame[["prepayment_speed", "default_probability", "recovery_rate", "loss_severity",
                  "recovery_lag"]].notna().all().all()


def test_lendingclub_unknown_status_is_reported(lc_tape):
    small = lc_tape.head(3).copy()
    small.loc[1, "loan_status"] = "Sold"
    with pytest.raises(ValidationError) as info:
        read_pool(small.to_csv(index=False).encode(), filename="lc.csv")
    (issue,) = info.value.issues
    assert (issue.row, issue.column, issue.value) == (2, "loan_status", "Sold")
    assert "Charged Off" in issue.rule


LOAN_RECORD = """LoanId,CustomerId,LoanAmount,InterestRate,LoanStartDate,LoanMaturityDate,LoanType,RepaymentSchedule,CurrentBalance,DefaultRiskScore
L1,C1,100000,0.05,2020-01-15,2050-01-15,Mortgage,Monthly,90000,0.01
L2,C2,20000,0.07,2023-03-01,2028-03-01,Auto Loan,monthly,15000,0.04
L3,C1,5000,0.12,2024-01-31,2026-01-31,personal,Monthly,0,
"""


def test_loan_record_mapping():
    pool = read_pool(LOAN_RECORD.encode(), filename="records.csv", cutoff_date=dt.date(2024, 6, 30))
    f = pool.frame
    assert pool.source_format == "loan-record"
    assert f["asset_id"].tolist() == ["L1", "L2", "L3"]
    assert f["asset_class"].tolist() == ["residential_mortgage", "auto_loan", "consumer_loan"]
    assert f["term"].tolist() == [360, 60, 24]
    # Whole months from start to 2024-06-30 (engine.ingest._mappings.whole_months, the one
    # month rule of every reader): 2020-01-15 → 53 (4 years and 5 months, 30 ≥ 15);
    # 2023-03-01 → 15; 2024-01-31 → 5 (June has no 31st: its last day completes the month).
    assert f["age"].tolist() == [53, 15, 5]
    assert f["status"].tolist() == ["performing", "performing", "paid_off"]
    assert f["original_balance"].tolist() == [100000.0, 20000.0, 5000.0]
    assert f["default_probability"].iloc[:2].tolist() == [0.01, 0.04]
    # L3 has no DefaultRiskScore: filled from the consumer_loan any-grade row.
    assert f["default_probability"].iloc[2] == pytest.approx(0.067)
    assert pool.metadata["n_customers"] == 2


def test_loan_record_needs_a_cutoff_date():
    with pytest.raises(InputError, match="cutoff_date"):
        read_pool(LOAN_RECORD.encode(), filename="records.csv")


def test_loan_record_problems_are_all_reported():
    bad = LOAN_RECORD.replace("Auto Loan,monthly", "Boat,Bullet").replace(",0.01\n", ",700\n")
    with pytest.raises(ValidationError) as info:
        read_pool(bad.encode(), filename="records.csv", cutoff_date=dt.date(2024, 6, 30))
    found = {(i.row, i.column) for i in info.value.issues}
    assert found == {(2, "LoanType"), (2, "RepaymentSchedule"), (1, "DefaultRiskScore")}
    rules = {i.column: i.rule for i in info.value.issues}
    assert "only monthly amortising" in rules["RepaymentSchedule"]
    assert "[0, 1]" in rules["DefaultRiskScore"]

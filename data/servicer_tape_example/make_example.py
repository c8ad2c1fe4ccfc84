"""Write ``servicer_tape.csv``: the first 2,000 loans of the bundled Lending Club tape laid out
the way a loan servicer's monthly export would be (derived data, not a real servicer's file).

Run from the repository root: ``.venv/bin/python data/servicer_tape_example/make_example.py``.
Deterministic: the same source gives byte-identical output (no randomness, no clock).

The layout (every value comes from ``data/lendingclub_2018q1/loans_full_schema.csv.gz``, row
``i`` = the source's data row ``i``):

=============  =================================================================================
LOAN_NO        ``SV`` + (100000 + i): the source has no loan id
PROD_CD        ``PERS`` (personal loan) for every loan
ORIG_AMT       loan_amount
CURR_UPB       balance; for a Charged Off loan whose balance is 0 (written off) the charged-off
               principal loan_amount - paid_principal, as the Lending Club mapping reads it
NOTE_RT_PCT    interest_rate, percent (14.07 = 14.07 %)
RATE_TYP       ``FXD`` (Lending Club loans are fixed-rate)
ORIG_DT        the first day of issue_month, MM/DD/YYYY
MATURITY_DT    ORIG_DT + term months, MM/DD/YYYY
LOAN_STAT      loan_status as a code: Current CUR, Fully Paid PIF, In Grace Period GRACE,
               Late (16-30 days) DQ30, Late (31-120 days) DQ120, Charged Off CHGOFF, Default DEF;
               a loan with a live status, balance 0 and paid_principal >= loan_amount is PIF
CR_GRADE       grade
PYMT_AMT       installment
BORR_STATE     state
=============  =================================================================================
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
OUT = HERE / "servicer_tape.csv"
N_LOANS = 2000
#: Lending Club loan_status → the servicer's status code.
STATUS_CODES = {
    "Current": "CUR",
    "Fully Paid": "PIF",
    "In Grace Period": "GRACE",
    "Late (16-30 days)": "DQ30",
    "Late (31-120 days)": "DQ120",
    "Charged Off": "CHGOFF",
    "Default": "DEF",
}


def servicer_tape(source: Path = SOURCE, *, n_loans: int = N_LOANS) -> pd.DataFrame:
    """The first ``n_loans`` Lending Club loans in the servicer layout (see the module docstring)."""
    lc = pd.read_csv(source).head(n_loans)
    issued = pd.to_datetime(lc["issue_month"], format="%b-%Y")
    term = lc["term"].astype(int)
    maturity = [d + pd.DateOffset(months=int(t)) for d, t in zip(issued, term, strict=True)]
    amount, paid = lc["loan_amount"].astype(float), lc["paid_principal"].astype(float)
    charged = (lc["loan_status"] == "Charged Off") & (lc["balance"] == 0)
    balance = lc["balance"].astype(float).mask(charged, amount - paid)
    repaid = (lc["loan_status"] != "Fully Paid") & ~charged & (lc["balance"] == 0) & (paid >= amount)
    status = lc["loan_status"].map(STATUS_CODES).mask(repaid, "PIF")
    return pd.DataFrame({
        "LOAN_NO": [f"SV{100000 + i}" for i in range(1, len(lc) + 1)],
        "PROD_CD": "PERS",
        "ORIG_AMT": lc["loan_amount"],
        "CURR_UPB": balance,
        "NOTE_RT_PCT": lc["interest_rate"],
        "RATE_TYP": "FXD",
        "ORIG_DT": issued.dt.strftime("%m/%d/%Y"),
        "MATURITY_DT": pd.Series(maturity).dt.strftime("%m/%d/%Y"),
        "LOAN_STAT": status,
        "CR_GRADE": lc["grade"],
        "PYMT_AMT": lc["installment"],
        "BORR_STATE": lc["state"],
    })


if __name__ == "__main__":
    servicer_tape().to_csv(OUT, index=False, lineterminator="\n")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)")

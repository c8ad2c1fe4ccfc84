"""Plausibility bounds (issue 9, finding 4): term ≤ 600 months, balance ≤ 1e10 per loan, column
names ≤ 256 characters (echoed cut short), a header given twice is an error."""

from __future__ import annotations

import json

import pydantic
import pytest

from engine.errors import InputError, ValidationError
from engine.ingest import Asset, read_pool
from engine.ingest.models import MAX_BALANCE, MAX_TERM_MONTHS

HEADER = "asset_id,asset_class,balance,rate,term,age"


def _tape(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def test_the_bounds_are_the_documented_ones():
    assert (MAX_TERM_MONTHS, MAX_BALANCE) == (600, 1e10)


@pytest.mark.parametrize(("field", "ok", "bad"), [
    ("term", 600, 601),
    ("balance", 1e10, 1.0000001e10),
    ("original_balance", 1e10, 1e300),
])
def test_asset_model_bounds(field, ok, bad):
    base = {"asset_id": "A", "asset_class": "auto_loan", "balance": 1000.0, "rate": 0.05, "term": 60}
    assert getattr(Asset(**{**base, field: ok}), field) == ok
    with pytest.raises(pydantic.ValidationError, match="less than or equal to"):
        Asset(**{**base, field: bad})


def test_tape_at_the_bounds_is_read_and_past_them_refused():
    pool = read_pool(_tape("A,auto_loan,10000000000,0.05,600,0"), filename="edge.csv")
    assert (pool.frame["term"].iat[0], pool.frame["balance"].iat[0]) == (600, 1e10)
    with pytest.raises(ValidationError) as err:
        read_pool(_tape("A,auto_loan,10000000001,0.05,601,0,2e10", "B,auto_loan,100,0.05,60,0,",
                        header=HEADER + ",original_balance"), filename="past.csv")
    found = {(i.row, i.column, i.rule.split(";")[0]) for i in err.value.issues}
    assert found == {
        (1, "balance", "must be at most 1e+10 per loan (currency units)"),
        (1, "term", "must be at most 600 months (50 years)"),
        (1, "original_balance", "must be at most 1e+10 per loan (currency units)"),
    }


def test_column_names_of_256_characters_pass_and_longer_are_echoed_cut_short():
    name = "x" * 256
    pool = read_pool(_tape("A,auto_loan,100,0.05,60,0,1", header=f"{HEADER},{name}"), filename="ok.csv")
    assert pool.n_assets == 1 and name in pool.metadata["ignored_columns"]
    with pytest.raises(ValidationError) as err:
        read_pool(_tape("A,auto_loan,100,0.05,60,0,1", header=f"{HEADER},{name}y"), filename="long.csv")
    (issue,) = err.value.issues
    assert issue.column == "x" * 40 + "…"
    assert issue.rule == "column 7's name is 257 characters long; use at most 256"


@pytest.mark.parametrize("kind", ["csv", "parquet", "xlsx"])
def test_a_header_given_twice_is_an_error_in_every_format(kind, tmp_path):
    import pandas as pd

    frame = pd.DataFrame([["A", "auto_loan", 100.0, 0.05, 60, 0, 200.0]],
                         columns=[*HEADER.split(","), "balance"])
    path = tmp_path / f"dup.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False)
    elif kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq
        pq.write_table(pa.Table.from_arrays([pa.array(frame.iloc[:, i]) for i in range(frame.shape[1])],
                                            names=list(frame.columns)), path)
    else:
        frame.to_excel(path, index=False)
    with pytest.raises(ValidationError, match=r"column 'balance': column name appears twice \(columns 3 and 7\)"):
        read_pool(path)


def test_a_json_key_given_twice_is_refused():
    body = ('{"pool_id": "p", "pool_name": "p", "assets": [{"asset_id": "A", "asset_class": "auto_loan", '
            '"balance": 100, "balance": 1e300, "rate": 0.05, "term": 60}]}')
    with pytest.raises(InputError, match="the key 'balance' appears twice in one JSON object"):
        read_pool(body.encode(), filename="dup.json")
    assert json.loads(body)["assets"][0]["balance"] == 1e300  # what a plain parser would have kept


def test_a_list_or_object_in_a_cell_is_an_issue_not_a_crash():
    """Found by the fuzz tests (issue 9): pandas cannot hash a list, so it used to escape as TypeError."""
    body = (b'[{"asset_id": {}, "asset_class": [], "balance": [1], "rate": 0.05, "term": 60},'
            b' {"asset_id": "B", "asset_class": "auto_loan", "balance": 100, "rate": 0.05, "term": 60}]')
    with pytest.raises(ValidationError) as err:
        read_pool(body, filename="nested.json")
    assert [(i.row, i.column, i.value) for i in err.value.issues] == [
        (1, "asset_id", "{}"), (1, "asset_class", "[]"), (1, "balance", "[1]")]
    assert {i.rule for i in err.value.issues} == {"must be one value (text or a number), not a list or an object"}

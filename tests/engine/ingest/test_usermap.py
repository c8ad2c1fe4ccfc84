"""User column mappings (engine.ingest._usermap): the model's rules, applying a mapping, the
month counting of derived age and term, suggestions, the live preview, and quarantining bad
rows in read_pool.

The tapes are a few hand-made rows in the servicer layout of data/servicer_tape_example, so
each expected value can be read off the rows.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError as PydanticValidationError

from engine.errors import InputError, ValidationError
from engine.ingest import (
    ColumnMapping,
    detect_format,
    preview_pool,
    read_pool,
    suggest_mapping,
    whole_months,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "data" / "servicer_tape_example"
CUTOFF = dt.date(2018, 6, 30)


def _mapping(**changes) -> ColumnMapping:
    base = json.loads((EXAMPLE / "servicer_mapping.json").read_text())
    base.update(changes)
    return ColumnMapping.model_validate(base)


def _tape(**columns) -> bytes:
    """Three servicer-layout loans; keyword arguments replace whole columns."""
    frame = pd.DataFrame({
        "LOAN_NO": ["S1", "S2", "S3"], "PROD_CD": ["PERS"] * 3,
        "ORIG_AMT": [10_000, 20_000, 5_000], "CURR_UPB": [9_000.0, 18_000.0, 4_000.0],
        "NOTE_RT_PCT": [12.5, 7.25, 20.0], "RATE_TYP": ["FXD", "ARM", "FXD"],
        "ORIG_DT": ["01/15/2018", "01/31/2018", "03/01/2018"],
        "MATURITY_DT": ["01/15/2021", "01/31/2023", "03/01/2021"],
        "LOAN_STAT": ["CUR", "DQ30", " CHGOFF "], "CR_GRADE": ["B", "A", "E"],
    })
    for name, values in columns.items():
        frame[name] = values
    return frame.to_csv(index=False).encode()


def _read(content: bytes, mapping: ColumnMapping | None = None, **kw):
    return read_pool(content, filename="t.csv", mapping=mapping or _mapping(),
                     cutoff_date=kw.pop("cutoff_date", CUTOFF), **kw)


# --------------------------------------------------------------------------- the model

@pytest.mark.parametrize(("change", "words"), [
    ({"fields": {"asset_id": {"column": "A", "constant": "x"}}}, "exactly one of column"),
    ({"fields": {"asset_id": {}}}, "exactly one of column"),
    ({"fields": {"colour": {"column": "C"}}}, "unknown field(s) colour"),
    ({"fields": {"status": {"constant": "late"}}}, "constant for status must be one of"),
    ({"fields": {"term": {"constant": "36"}}}, "constant for term must be a number"),
    ({"fields": {"asset_id": {"constant": "X"}}}, "asset_id must come from a column"),
    ({"values": {"status": {"CUR": "current"}}}, "maps to 'current'"),
    ({"values": {"grade": {"1": "A"}}}, "values can be mapped for"),
    ({"fields": {"status": {"constant": "performing"}}, "values": {"status": {"X": "default"}}},
     "needs status mapped from a source column"),
    ({"units": {"term": "percent"}}, "a unit can be given for"),
    ({"fields": {"asset_id": {"column": "L"}, "age": {"column": "AGE"}},
      "dates": {"origination": "O"}}, "age derived from the date columns"),
    ({"name": "x" * 81}, "at most 80 characters"),
    ({"name": "   "}, "at least 1 character"),
    ({"name": "tab\there"}, "control or invisible"),
    ({"dates": {"origination": "O", "format": "YYYY-MM-DD"}}, "has no % code"),
    ({"extra": 1}, "Extra inputs are not permitted"),
])
def test_a_mapping_that_breaks_a_rule_is_refused(change, words):
    body = {"name": "m", "fields": {"asset_id": {"column": "L"}, "status": {"column": "S"}}}
    body.update(change)
    with pytest.raises(PydanticValidationError) as err:
        ColumnMapping.model_validate(body)
    assert words in str(err.value)


def test_a_value_map_is_bounded():
    table = {f"v{i}": "performing" for i in range(501)}
    with pytest.raises(PydanticValidationError, match="at most 500"):
        ColumnMapping.model_validate({"name": "m", "fields": {"status": {"column": "S"}},
                                      "values": {"status": table}})


def test_the_example_mapping_round_trips_through_json():
    m = _mapping()
    assert ColumnMapping.model_validate_json(m.model_dump_json()) == m
    assert m.source_columns() == ["LOAN_NO", "PROD_CD", "CURR_UPB", "NOTE_RT_PCT", "ORIG_AMT",
                                  "RATE_TYP", "LOAN_STAT", "CR_GRADE", "ORIG_DT", "MATURITY_DT"]


# --------------------------------------------------------------------------- months

@pytest.mark.parametrize(("start", "end", "months"), [
    ("2018-01-01", "2018-06-30", 5),    # the example: issued in January, cutoff end of June
    ("2018-01-15", "2018-03-14", 1),    # floored: the 15th not reached in March
    ("2018-01-15", "2018-03-15", 2),
    ("2018-01-31", "2018-02-28", 1),    # a month-end date completes the month
    ("2018-01-31", "2018-06-30", 5),
    ("2018-01-30", "2018-02-27", 0),    # 27 Feb is not a month end
    ("2018-03-01", "2021-03-01", 36),
    ("2018-07-01", "2018-06-30", -1),
])
def test_whole_months_counts_calendar_months(start, end, months):
    got = whole_months(pd.Series(pd.to_datetime([start])), pd.Series(pd.to_datetime([end])))
    assert got.tolist() == [months]


# --------------------------------------------------------------------------- applying

def test_the_mapping_gives_canonical_columns():
    pool = _read(_tape())
    f = pool.frame
    assert f["asset_id"].tolist() == ["S1", "S2", "S3"]
    assert f["asset_class"].tolist() == ["consumer_loan"] * 3
    assert f["rate"].tolist() == [0.125, 0.0725, 0.2]            # percent / 100
    assert f["rate_type"].tolist() == ["fixed", "floating", "fixed"]
    assert f["status"].tolist() == ["performing", "delinquent", "default"]  # blanks stripped
    assert f["term"].tolist() == [36, 60, 36]
    assert f["age"].tolist() == [5, 5, 3]   # 15 Jan→30 Jun 5; 31 Jan→30 Jun 5; 1 Mar→30 Jun 3
    assert f["original_balance"].tolist() == [10_000.0, 20_000.0, 5_000.0]
    assert pool.source_format == "mapped"
    assert pool.metadata["mapping_name"] == "Servicer tape example"


def test_a_value_already_a_stresslab_code_passes_and_an_unmapped_one_is_named():
    with pytest.raises(ValidationError) as err:
        _read(_tape(LOAN_STAT=["performing", "P I F", "CUR"]))
    (issue,) = err.value.issues
    assert (issue.row, issue.column, issue.value) == (2, "LOAN_STAT", "P I F")
    assert "not in the mapping's value map for status" in issue.rule
    m = _mapping(values={**_mapping().values, "status": {"CUR": "performing",
                                                        "P I F": "paid_off"}})
    assert _read(_tape(LOAN_STAT=["performing", "P I F", "CUR"]), m).frame["status"].tolist() == [
        "performing", "paid_off", "performing"]


def test_a_rate_stated_decimal_is_not_read_as_percent():
    decimal = _mapping(units={"rate": "decimal"})
    with pytest.raises(ValidationError) as err:
        _read(_tape(), decimal)   # 12.5 stated decimal: out of range, never silently / 100
    assert {(i.row, i.column) for i in err.value.issues} == {(1, "NOTE_RT_PCT"), (2, "NOTE_RT_PCT"),
                                                          (3, "NOTE_RT_PCT")}
    ok = _read(_tape(NOTE_RT_PCT=[0.125, 0.0725, 0.2]), decimal)
    assert ok.frame["rate"].tolist() == [0.125, 0.0725, 0.2]


def test_constants_fill_fields_the_tape_lacks():
    body = _mapping().model_dump(mode="json")
    body["fields"]["asset_class"] = {"constant": "auto_loan"}
    body["fields"]["default_probability"] = {"constant": 0.04}
    body["values"].pop("asset_class")
    pool = _read(_tape(), ColumnMapping.model_validate(body))
    assert pool.frame["asset_class"].tolist() == ["auto_loan"] * 3
    assert pool.frame["default_probability"].tolist() == [0.04] * 3


def test_a_column_the_tape_lacks_and_an_unmapped_required_field_are_reported():
    body = _mapping().model_dump(mode="json")
    body["fields"]["balance"] = {"column": "UPB_NOW"}
    body["fields"].pop("rate")
    body["units"] = {}
    with pytest.raises(ValidationError) as err:
        _read(_tape(), ColumnMapping.model_validate(body))
    said = {(i.row, i.column): i.rule for i in err.value.issues}
    assert "is not in the tape" in said[(None, "UPB_NOW")]
    assert "required field not mapped" in said[(None, "rate")]


def test_dates_need_a_cutoff_and_bad_dates_are_reported():
    with pytest.raises(InputError, match="needs the cutoff date"):
        _read(_tape(), cutoff_date=None)
    with pytest.raises(ValidationError) as err:
        _read(_tape(ORIG_DT=["01/15/2018", "2018-01-31", "07/01/2018"]))
    said = {(i.row, i.column): (i.value, i.rule) for i in err.value.issues}
    assert said[(2, "ORIG_DT")] == ("2018-01-31", "origination date must be a date like %m/%d/%Y")
    assert said[(3, "ORIG_DT")][1] == "origination date is after the cutoff date 2018-06-30"
    assert "origination date is missing or unreadable" in said[(2, "MATURITY_DT")][1]


def test_the_known_layouts_do_not_fit_the_example_tape():
    header = pd.read_csv(EXAMPLE / "servicer_tape.csv", nrows=0).columns
    with pytest.raises(InputError, match="Could not recognise the tape's format"):
        detect_format(header)


# --------------------------------------------------------------------------- suggestions

def test_suggestions_find_the_servicer_columns_by_name_and_kind():
    sample = pd.read_csv(EXAMPLE / "servicer_tape.csv", nrows=200)
    s = suggest_mapping(sample)
    assert {f: c for f, c in s.fields.items() if c} == {
        "asset_id": "LOAN_NO", "asset_class": "PROD_CD", "balance": "CURR_UPB",
        "rate": "NOTE_RT_PCT",
        "original_balance": "ORIG_AMT", "rate_type": "RATE_TYP", "status": "LOAN_STAT",
        "grade": "CR_GRADE"}
    assert (s.origination, s.maturity, s.date_format) == ("ORIG_DT", "MATURITY_DT", "%m/%d/%Y")
    assert s.units == {"rate": "percent"}
    assert s.kinds["ORIG_DT"] == "date" and s.kinds["CURR_UPB"] == "numeric"
    assert s.kinds["PROD_CD"] == "text" and s.distinct["PROD_CD"] == ["PERS"]
    assert set(s.distinct["LOAN_STAT"]) <= {"CUR", "PIF", "GRACE", "DQ30", "DQ120", "CHGOFF"}


def test_a_text_column_is_never_suggested_for_a_number():
    sample = pd.DataFrame({"balance": ["high", "low"], "curr_upb": [1.0, 2.0]})
    assert suggest_mapping(sample).fields["balance"] == "curr_upb"


def test_a_decimal_rate_column_is_suggested_decimal():
    sample = pd.DataFrame({"loan_id": ["a", "b"], "interest_rate": [0.05, 0.07]})
    s = suggest_mapping(sample)
    assert s.fields["rate"] == "interest_rate" and s.units == {"rate": "decimal"}


# --------------------------------------------------------------------------- preview

def test_the_preview_maps_the_first_rows_and_counts_valid_and_invalid():
    content = _tape(CURR_UPB=[9_000.0, -1.0, 4_000.0], LOAN_STAT=["CUR", "DQ30", "ZZZ"])
    pv = preview_pool(content, filename="t.csv", mapping=_mapping(), cutoff_date=CUTOFF, head=2)
    assert (pv.n_rows, pv.n_valid, pv.n_invalid) == (3, 1, 2)
    assert pv.frame["asset_id"].tolist() == ["S1", "S2"]
    assert [(i.row, i.column) for i in pv.issues] == [(2, "CURR_UPB"), (3, "LOAN_STAT")]


# --------------------------------------------------------------------------- bad rows

def test_one_bad_row_refuses_the_tape_by_default():
    with pytest.raises(ValidationError, match="nothing was stored"):
        _read(_tape(CURR_UPB=[9_000.0, -1.0, 4_000.0]))


def test_quarantine_keeps_the_valid_rows_and_every_rule_a_bad_row_broke():
    content = _tape(CURR_UPB=[9_000.0, -1.0, 4_000.0],
                    ORIG_DT=["01/15/2018", "nope", "03/01/2018"])
    pool = _read(content, bad_rows="quarantine")
    assert pool.frame["asset_id"].tolist() == ["S1", "S3"]
    assert pool.n_quarantined == 1 and pool.metadata["n_quarantined"] == 1
    (q,) = pool.quarantine
    assert q["source_row"] == 2
    assert q["values"]["LOAN_NO"] == "S2" and q["values"]["CURR_UPB"] == -1.0
    assert [i["column"] for i in q["issues"]] == ["ORIG_DT", "MATURITY_DT", "CURR_UPB"]
    assert any("1 of 3 rows broke a rule and were quarantined" in w for w in pool.warnings)


def test_quarantine_still_refuses_a_whole_column_problem_and_a_tape_with_no_valid_row():
    body = _mapping().model_dump(mode="json")
    body["fields"]["balance"] = {"column": "UPB_NOW"}
    with pytest.raises(ValidationError, match="is not in the tape"):
        _read(_tape(), ColumnMapping.model_validate(body), bad_rows="quarantine")
    with pytest.raises(ValidationError, match="3 problems"):
        _read(_tape(CURR_UPB=[-1.0, -2.0, -3.0]), bad_rows="quarantine")


def test_quarantine_works_for_a_known_layout_too(native_frame):
    frame = native_frame.copy()
    frame.loc[1, "rate"] = 7.0   # beside decimals: out of range, not a percent column
    pool = read_pool(frame.to_csv(index=False).encode(), filename="n.csv", bad_rows="quarantine")
    assert pool.frame["asset_id"].tolist() == ["M-1", "C-3"]
    assert [q["source_row"] for q in pool.quarantine] == [2]
    assert np.isclose(pool.total_balance, 200_000.0)


def test_value_codes_are_suggested_for_common_servicer_codes():
    from engine.ingest import suggest_codes

    assert suggest_codes("status", ["CUR", "P I F", "DQ30", "CHGOFF", "performing", "??"]) == {
        "CUR": "performing", "P I F": "paid_off", "DQ30": "delinquent", "CHGOFF": "default",
        "performing": "performing", "??": None}
    assert suggest_codes("asset_class", ["PERS", "SBA 7A", "auto loan", "XYZ"]) == {
        "PERS": "consumer_loan", "SBA 7A": "sme_loan", "auto loan": "auto_loan", "XYZ": None}
    assert suggest_codes("rate_type", ["FXD", "ARM", "Fixed"]) == {
        "FXD": "fixed", "ARM": "floating", "Fixed": "fixed"}


# --------------------------------------------------------------------------- review fixes

def test_a_percent_rate_column_holding_decimals_is_refused_with_its_range():
    # 0.125 and 0.0725 declared percent would become 0.00125 and 0.000725: every figure / 100
    with pytest.raises(ValidationError) as err:
        _read(_tape(NOTE_RT_PCT=[0.125, 0.0725, 0.0]))
    (issue,) = err.value.issues
    assert (issue.row, issue.column, issue.value) == (None, "NOTE_RT_PCT", "0.0725 to 0.125")
    assert "declared percent, but every non-zero value is between 0.0725 and 0.125" in issue.rule
    assert "set the unit of rate to decimal" in issue.rule
    # a whole-column problem: quarantining cannot import it either
    with pytest.raises(ValidationError, match="declared percent"):
        _read(_tape(NOTE_RT_PCT=[0.125, 0.0725, 0.2]), bad_rows="quarantine")


def test_a_percent_cdr_column_under_one_percent_is_read_with_a_warning():
    body = _mapping().model_dump(mode="json")
    body["fields"]["default_probability"] = {"column": "CDR_PCT"}
    body["units"]["default_probability"] = "percent"
    pool = _read(_tape(CDR_PCT=[0.5, 0.25, 0.8]), ColumnMapping.model_validate(body))
    assert pool.frame["default_probability"].tolist() == [0.005, 0.0025, 0.008]
    (said,) = [w for w in pool.warnings if w.startswith("Check: ")]
    assert "default_probability declared percent" in said and "0.25 and 0.8" in said


LOAN_RECORD = pd.DataFrame({
    "LoanId": ["L1", "L2", "L3"], "LoanAmount": [10_000.0] * 3, "InterestRate": [0.08] * 3,
    "LoanStartDate": ["2018-01-31", "2018-01-15", "2018-01-20"],
    "LoanMaturityDate": ["2021-01-31", "2021-01-14", "2021-01-05"],
    "LoanType": ["personal"] * 3, "RepaymentSchedule": ["monthly"] * 3,
    "CurrentBalance": [9_000.0] * 3})


def test_the_loan_record_layout_and_a_mapping_count_months_alike():
    content = LOAN_RECORD.to_csv(index=False).encode()
    layout = read_pool(content, filename="lr.csv", cutoff_date=CUTOFF)
    mapping = ColumnMapping.model_validate({
        "name": "lr", "fields": {"asset_id": {"column": "LoanId"},
                                 "asset_class": {"constant": "consumer_loan"},
                                 "balance": {"column": "CurrentBalance"},
                                 "rate": {"column": "InterestRate"},
                                 "original_balance": {"column": "LoanAmount"}},
        "units": {"rate": "decimal"},
        "dates": {"origination": "LoanStartDate", "maturity": "LoanMaturityDate"}})
    mapped = read_pool(content, filename="lr.csv", cutoff_date=CUTOFF, mapping=mapping)
    # term: 31 Jan 2018 → 31 Jan 2021 36; 15 Jan → 14 Jan 2021 35 (the 15th not reached);
    # 20 Jan → 5 Jan 2021 35. age to 30 Jun 2018: 31 Jan → 5 (a month end completes the
    # month), 15 Jan → 5, 20 Jan → 5.
    for pool in (layout, mapped):
        assert pool.frame["term"].tolist() == [36, 35, 35]
        assert pool.frame["age"].tolist() == [5, 5, 5]


@pytest.mark.parametrize(("fmt", "words"), [
    ("%Y-%m-%", "is not a valid strftime format"),     # a stray %
    ("%Q/%Y", "is not a valid strftime format"),       # no such code
    ("%d %H:%M", "needs a year (%Y) and a month"),     # no year, no month
])
def test_a_date_format_that_cannot_read_a_date_is_a_validation_error(fmt, words):
    body = _mapping().model_dump(mode="json")
    body["dates"]["format"] = fmt
    with pytest.raises(PydanticValidationError) as err:
        ColumnMapping.model_validate(body)
    assert words in str(err.value) and "dates.format" in str(err.value).replace("\n", ".")


def test_yyyymm_dates_read_as_numbers_are_parsed_and_suggested():
    # a blank maturity makes pandas read the column as float (202303.0)
    content = _tape(ORIG_DT=[201801, 201801, 201803], MATURITY_DT=[202101.0, None, 202103.0])
    frame = pd.read_csv(pd.io.common.BytesIO(content))
    assert frame["MATURITY_DT"].dtype == "float64"
    body = _mapping().model_dump(mode="json")
    body["dates"]["format"] = "%Y%m"
    pv = preview_pool(content, filename="t.csv", mapping=ColumnMapping.model_validate(body),
                      cutoff_date=CUTOFF)
    assert [(i.row, i.column, i.rule) for i in pv.issues] == [
        (2, "MATURITY_DT", "maturity date missing")]
    # 1 Jan 2018 → 1 Jan 2021 36 months; age 1 Jan → 30 Jun 5, 1 Mar → 30 Jun 3
    assert pv.frame["term"].tolist()[::2] == [36, 36]
    assert pv.frame["age"].tolist() == [5, 5, 3]
    s = suggest_mapping(frame)
    assert (s.kinds["ORIG_DT"], s.kinds["MATURITY_DT"]) == ("date", "date")
    assert (s.origination, s.maturity, s.date_format) == ("ORIG_DT", "MATURITY_DT", "%Y%m")

"""Column mappings and quarantined rows through the workflows, the store and the command line
(issue 10), and the done-when test: the worked example imported with its saved mapping values
the same as a native file of the same loans.

The native file is built here from the Lending Club source columns directly, by the rules of
``data/servicer_tape_example/make_example.py`` read the other way: asset_id the servicer's
loan number ``SV`` + (100000 + row), consumer_loan, fixed rate, balance (a written-off Charged
Off loan at loan_amount - paid_principal), rate interest_rate / 100, term the tape's term,
age = months from issue_month to June 2018 (Jan 5, Feb 4, Mar 3), original_balance
loan_amount, grade, status by the Lending Club status table (a live loan with balance 0 and
paid_principal >= loan_amount paid_off). The behavioural values are left to the assumption
table in both files.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

import engine.credit.workflow as wf
from engine.cli import main
from engine.credit.workflow import ImportPoolRequest, StressRunRequest
from engine.errors import InputError, NotFoundError, ValidationError
from engine.ingest import LC_STATUS, PoolData
from engine.store import Store

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "data" / "servicer_tape_example"
TAPE = EXAMPLE / "servicer_tape.csv"
MAPPING = EXAMPLE / "servicer_mapping.json"
LC = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
CUTOFF = dt.date(2018, 6, 30)


@pytest.fixture()
def store(tmp_path) -> Store:
    return Store(tmp_path / "map.duckdb", timeout=5.0)


def _mapping():
    return wf.parse_mapping(MAPPING.read_bytes())


def _native_from_lc(n: int = 2000) -> pd.DataFrame:
    """The first ``n`` Lending Club loans as a native tape, straight from the source columns."""
    lc = pd.read_csv(LC).head(n)
    amount, paid = lc["loan_amount"].astype(float), lc["paid_principal"].astype(float)
    charged = (lc["loan_status"] == "Charged Off") & (lc["balance"] == 0)
    status = lc["loan_status"].map(LC_STATUS)
    repaid = (status != "paid_off") & ~charged & (lc["balance"] == 0) & (paid >= amount)
    return pd.DataFrame({
        "asset_id": [f"SV{100000 + i}" for i in range(1, n + 1)],
        "asset_class": "consumer_loan",
        "balance": lc["balance"].astype(float).mask(charged, amount - paid),
        "rate": lc["interest_rate"] / 100.0,
        "term": lc["term"].astype(int),
        "age": lc["issue_month"].map({"Jan-2018": 5, "Feb-2018": 4, "Mar-2018": 3}),
        "original_balance": amount,
        "rate_type": "fixed",
        "status": status.mask(repaid, "paid_off"),
        "grade": lc["grade"],
    })


def _base_npv(pool_id: str, store: Store) -> float:
    run = wf.run_stress(StressRunRequest(pool_id=pool_id, scenario_names=["base"],
                                         use_cache=False), store=store)
    return run.result.scenarios["base"].metrics["npv"]


# --------------------------------------------------------------------------- done when

def test_the_example_with_its_saved_mapping_values_as_a_native_file_of_the_same_loans(store):
    wf.save_mapping(_mapping(), store=store)
    saved = wf.load_mapping("Servicer tape example", store=store)
    mapped = wf.import_pool(ImportPoolRequest(path=TAPE, mapping=saved, cutoff_date=CUTOFF,
                                              pool_id="servicer"), store=store)
    native = wf.import_pool(ImportPoolRequest(
        content=_native_from_lc().to_csv(index=False).encode(), filename="native.csv",
        format="native", cutoff_date=CUTOFF, pool_id="native"), store=store)
    assert (mapped.source_format, native.source_format) == ("mapped", "native")
    assert mapped.n_assets == native.n_assets == 2000
    assert mapped.n_quarantined == 0
    a, b = wf.load_pool("servicer", store=store), wf.load_pool("native", store=store)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    npv_mapped, npv_native = _base_npv("servicer", store), _base_npv("native", store)
    assert npv_mapped == pytest.approx(npv_native, rel=1e-9)
    assert 0.9 * mapped.total_balance < npv_mapped < 1.2 * mapped.total_balance


# --------------------------------------------------------------------------- mappings

def test_mappings_are_saved_listed_loaded_exported_and_deleted(store):
    m = _mapping()
    assert wf.save_mapping(m, store=store) is True
    assert wf.save_mapping(m, store=store) is False          # same name: replaced
    listed = wf.list_mappings(store=store)
    assert listed[["name", "n_fields", "derives_dates"]].to_dict("records") == [
        {"name": "Servicer tape example", "n_fields": 8, "derives_dates": True}]
    back = wf.load_mapping("Servicer tape example", store=store)
    assert back == m
    assert wf.parse_mapping(wf.mapping_json(back)) == m       # export → import round trip
    assert "constant" not in wf.mapping_json(back)            # defaults left out
    wf.delete_mapping("Servicer tape example", store=store)
    assert wf.list_mappings(store=store).empty
    with pytest.raises(NotFoundError, match="no saved column mapping 'Servicer tape example'"):
        wf.load_mapping("Servicer tape example", store=store)


def test_a_bad_mapping_file_names_every_problem():
    body = json.loads(MAPPING.read_text())
    body["units"] = {"rate": "basis points"}
    with pytest.raises(ValidationError) as err:
        wf.parse_mapping(json.dumps(body), name="m.json")
    assert "m.json" in str(err.value) and "units.rate" in str(err.value)


def test_suggest_and_preview_through_the_workflows():
    content = TAPE.read_bytes()
    s = wf.suggest_mapping(content, filename="servicer_tape.csv")
    assert s.fields["balance"] == "CURR_UPB" and s.origination == "ORIG_DT"
    pv = wf.preview_mapping(content, filename="servicer_tape.csv", mapping=_mapping(),
                            cutoff_date=CUTOFF, head=5)
    assert (pv.n_rows, pv.n_valid, pv.n_invalid, len(pv.frame)) == (2000, 2000, 0, 5)
    assert pv.frame["asset_id"].tolist() == ["SV100001", "SV100002", "SV100003", "SV100004",
                                            "SV100005"]


# --------------------------------------------------------------------------- quarantine

def _bad_tape(tmp_path: Path) -> Path:
    frame = pd.read_csv(TAPE, dtype=str).head(10)
    frame.loc[2, "LOAN_STAT"] = "WEIRD"      # row 3
    frame.loc[5, "CURR_UPB"] = "-5"          # row 6
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def test_quarantined_rows_are_stored_with_the_pool_counted_and_downloadable(tmp_path, store):
    done = wf.import_pool(ImportPoolRequest(path=_bad_tape(tmp_path), mapping=_mapping(),
                                            cutoff_date=CUTOFF, bad_rows="quarantine"),
                          store=store)
    assert (done.n_assets, done.n_quarantined) == (8, 2)
    assert any("2 of 10 rows broke a rule" in w for w in done.warnings)
    assert wf.list_pools(store=store)["n_quarantined"].tolist() == [2]
    assert wf.pool_summary("bad", store=store)["n_quarantined"] == 2
    rows = wf.quarantined_rows("bad", store=store)
    assert rows["stresslab_source_row"].tolist() == [3, 6]
    assert list(rows.columns[:4]) == ["stresslab_source_row", "stresslab_issues", "LOAN_NO",
                                      "PROD_CD"]  # then the tape's columns in the tape's order
    assert rows["LOAN_NO"].tolist() == ["SV100003", "SV100006"]
    assert "LOAN_STAT: value not in the mapping's value map" in rows["stresslab_issues"][0]
    csv = pd.read_csv(pd.io.common.BytesIO(wf.quarantine_csv("bad", store=store)))
    assert csv["stresslab_source_row"].tolist() == [3, 6]
    wf.delete_pool("bad", store=store)
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM quarantined_rows").fetchone()[0] == 0


def test_the_default_refuses_and_stores_nothing(tmp_path, store):
    with pytest.raises(ValidationError, match="2 problems found; nothing was stored"):
        wf.import_pool(ImportPoolRequest(path=_bad_tape(tmp_path), mapping=_mapping(),
                                         cutoff_date=CUTOFF), store=store)
    assert wf.list_pools(store=store).empty


def test_a_failure_while_storing_the_quarantine_stores_nothing(tmp_path, store):
    pool = wf.read_pool(ImportPoolRequest(path=_bad_tape(tmp_path), mapping=_mapping(),
                                          cutoff_date=CUTOFF, bad_rows="quarantine"))
    twice = [*pool.quarantine, pool.quarantine[0]]   # the same source row twice: the key breaks
    broken = PoolData(pool_id=pool.pool_id, pool_name=pool.pool_name, frame=pool.frame,
                      cutoff_date=pool.cutoff_date, source_format=pool.source_format,
                      quarantine=twice)
    with pytest.raises(Exception, match="(?i)constraint|duplicate"):
        wf.save_pool(broken, store=store)
    assert wf.list_pools(store=store).empty
    with store.read() as con:
        assert con.execute("SELECT count(*) FROM assets").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM quarantined_rows").fetchone()[0] == 0


# --------------------------------------------------------------------------- command line

def test_the_command_imports_with_a_mapping_file_and_writes_the_quarantine(tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "cli.duckdb"))
    assert main(["pools", "import", str(TAPE), "--mapping", str(MAPPING),
                 "--cutoff-date", "2018-06-30", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["pool_id"], out["format"], out["n_assets"], out["n_quarantined"]) == (
        "servicer_tape", "mapped", 2000, 0)
    assert main(["pools", "mappings", "import", str(MAPPING)]) == 0
    assert "saved mapping 'Servicer tape example'" in capsys.readouterr().out
    bad = _bad_tape(tmp_path)
    assert main(["pools", "import", str(bad), "--mapping-name", "Servicer tape example",
                 "--cutoff-date", "2018-06-30"]) == 2
    assert "nothing was stored" in capsys.readouterr().err
    assert main(["pools", "import", str(bad), "--mapping-name", "Servicer tape example",
                 "--cutoff-date", "2018-06-30", "--bad-rows", "quarantine"]) == 0
    assert "quarantined 2 bad rows" in capsys.readouterr().out
    out_csv = tmp_path / "q.csv"
    assert main(["pools", "quarantine", "bad", "--out", str(out_csv)]) == 0
    assert pd.read_csv(out_csv)["stresslab_source_row"].tolist() == [3, 6]
    exported = tmp_path / "m.json"
    assert main(["pools", "mappings", "export", "Servicer tape example", "--out",
                 str(exported)]) == 0
    assert wf.parse_mapping(exported.read_bytes()) == _mapping()
    assert main(["pools", "mappings", "delete", "Servicer tape example"]) == 0
    capsys.readouterr()
    assert main(["pools", "mappings", "list"]) == 0
    assert "no saved column mappings" in capsys.readouterr().out


# --------------------------------------------------------------------------- review fixes

def test_safe_csv_escapes_formula_like_column_names():
    from engine.export import read_csv, to_safe_csv

    frame = pd.DataFrame({"=HYPERLINK(\"http://x\")": ["a"], "@SUM": [1.0], "-x": [2],
                          "plain": ["=1+1"], 2018: ["b"]})
    data = to_safe_csv(frame)
    header = data.decode().splitlines()[0]
    assert header == '"\'=HYPERLINK(""http://x"")",\'@SUM,\'-x,plain,2018'
    back = read_csv(data)
    assert back["plain"].tolist() == ["'=1+1"] and back["'@SUM"].tolist() == [1.0]


def _hostile_tape(tmp_path: Path) -> Path:
    frame = pd.read_csv(TAPE, dtype=str).head(10)
    frame = frame.rename(columns={"BORR_STATE": "=HYPERLINK(\"http://evil\",\"x\")"})
    frame.loc[2, "LOAN_STAT"] = "=cmd|' /C calc'!A0"        # row 3: not in the value map
    frame.loc[5, "CURR_UPB"] = "-5"                          # row 6: negative balance
    frame.loc[5, "PYMT_AMT"] = "@SUM(1+1)"
    frame["issues"], frame["source_row"] = "tape note", "42"  # the tape's own columns
    path = tmp_path / "hostile.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_quarantine_csv_is_formula_safe_and_keeps_the_tapes_columns(tmp_path, store,
                                                                          monkeypatch):
    wf.import_pool(ImportPoolRequest(path=_hostile_tape(tmp_path), mapping=_mapping(),
                                     cutoff_date=CUTOFF, bad_rows="quarantine"), store=store)
    data = wf.quarantine_csv("hostile", store=store)
    text = data.decode()
    header, first, second = text.splitlines()
    assert header.endswith(',"\'=HYPERLINK(""http://evil"",""x"")",issues,source_row')
    assert header.startswith("stresslab_source_row,stresslab_issues,LOAN_NO,")
    back = pd.read_csv(pd.io.common.BytesIO(data), dtype=str)
    assert back["LOAN_STAT"].tolist() == ["'=cmd|' /C calc'!A0", "CUR"]
    assert back["PYMT_AMT"].tolist() == ["71.4", "'@SUM(1+1)"]
    assert back["CURR_UPB"].tolist() == ["1824.63", "-5.0"]    # numbers stay numbers…
    assert back["ORIG_AMT"].tolist() == ["2000", "5000"]         # …whole ones without .0
    assert back["issues"].tolist() == ["tape note"] * 2         # the tape's own columns kept
    assert back["source_row"].tolist() == ["42", "42"]
    assert back["stresslab_source_row"].tolist() == ["3", "6"]
    # the command writes the same bytes
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "map.duckdb"))
    out = tmp_path / "q.csv"
    assert main(["pools", "quarantine", "hostile", "--out", str(out)]) == 0
    assert out.read_bytes() == data


def test_importing_the_same_loans_again_reports_the_stored_quarantine(tmp_path, store):
    first = wf.import_pool(ImportPoolRequest(path=_bad_tape(tmp_path), mapping=_mapping(),
                                             cutoff_date=CUTOFF, bad_rows="quarantine"),
                           store=store)
    assert (first.created, first.n_quarantined) == (True, 2)
    frame = pd.read_csv(tmp_path / "bad.csv", dtype=str)
    extra = frame.iloc[[0]].assign(LOAN_NO="NEW", LOAN_STAT="ZZZ")   # one more bad row
    again = tmp_path / "again" / "bad.csv"
    again.parent.mkdir()
    pd.concat([frame, extra], ignore_index=True).to_csv(again, index=False)
    second = wf.import_pool(ImportPoolRequest(path=again, mapping=_mapping(),
                                              cutoff_date=CUTOFF, bad_rows="quarantine"),
                            store=store)
    assert second.created is False
    assert second.n_quarantined == 2 == wf.pool_summary("bad", store=store)["n_quarantined"]
    (said,) = [w for w in second.warnings if "nothing was written" in w]
    assert "keeps its 2 quarantined rows (this tape has 3)" in said
    assert not any("3 of 11 rows broke a rule" in w for w in second.warnings)


def test_a_mapping_file_over_1_mb_is_refused_before_it_is_parsed(tmp_path, monkeypatch, capsys):
    body = json.loads(MAPPING.read_text())
    body["description"] = "x" * 1_000_001       # not even valid (over 1,000 characters)
    with pytest.raises(InputError, match="a column mapping is at most 1,000,000 bytes"):
        wf.parse_mapping(json.dumps(body), name="big.json")
    path = tmp_path / "big.json"
    path.write_text(json.dumps(body))
    monkeypatch.setenv("STRESSLAB_DB", str(tmp_path / "cli.duckdb"))
    assert main(["pools", "mappings", "import", str(path)]) == 2
    assert "at most 1,000,000 bytes" in capsys.readouterr().err


def test_column_values_lists_numeric_codes_too():
    frame = pd.read_csv(TAPE, dtype=str).head(6)
    frame["DLQ_STATUS"] = ["0", "0", "1", "", "3", "0"]   # a blank: read as float 0.0, 1.0 …
    content = frame.to_csv(index=False).encode()
    assert wf.column_values(content, filename="t.csv", column="DLQ_STATUS") == ["0", "1", "3"]
    body = _mapping().model_dump(mode="json")
    body["fields"]["status"] = {"column": "DLQ_STATUS"}
    body["values"]["status"] = {"0": "performing", "1": "delinquent", "3": "default"}
    pv = wf.preview_mapping(content, filename="t.csv", mapping=wf.parse_mapping(json.dumps(body)),
                            cutoff_date=CUTOFF)
    assert pv.frame["status"].tolist()[:3] == ["performing", "performing", "delinquent"]
    assert pv.frame["status"].tolist()[4] == "default"

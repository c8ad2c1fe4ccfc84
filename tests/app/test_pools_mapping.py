"""AppTest of the Pools page's column-mapping editor (issue 10): an unrecognised tape opens the
editor with suggested columns, the preview counts valid rows, a mapping is saved and reused,
the bad-rows choice (refuse preselected) quarantines bad rows and the pool counts them, and the
cutoff picker takes a 2014 date.

What the page stored is read back through the workflow functions on ``Store(path)``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from engine.ingest import ASSET_COLUMNS
from engine.store import Store
from tests.app.conftest import reader_text

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
EXAMPLE = ROOT / "data" / "servicer_tape_example"



def _pools() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    at.switch_page("../pages/pools.py").run()
    assert not at.exception, at.exception
    return at


def _tape(n: int = 40, *, bad_rows: tuple[int, ...] = ()) -> bytes:
    frame = pd.read_csv(EXAMPLE / "servicer_tape.csv", dtype=str).head(n)
    for row in bad_rows:
        frame.loc[row - 1, "CURR_UPB"] = "-1"
    return frame.to_csv(index=False).encode()


def _upload(at: AppTest, content: bytes, name: str = "servicer.csv") -> AppTest:
    at.file_uploader(key="pools_upload").set_value((name, content, "text/csv")).run()
    assert not at.exception, at.exception
    return at


def _preview(at: AppTest) -> pd.DataFrame:
    """The editor's preview: the one table with every canonical column, in order."""
    (table,) = [d.value for d in at.dataframe if list(d.value.columns) == list(ASSET_COLUMNS)]
    return table


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_an_unrecognised_tape_opens_the_editor_with_suggestions(store):
    at = _upload(_pools(), _tape())
    assert "Could not recognise the tape's format" in reader_text(at.warning)
    assert at.selectbox(key="pools_map_src_asset_id").value == "LOAN_NO"
    assert at.selectbox(key="pools_map_src_balance").value == "CURR_UPB"
    assert at.selectbox(key="pools_map_src_rate").value == "NOTE_RT_PCT"
    assert at.selectbox(key="pools_map_src_status").value == "LOAN_STAT"
    assert at.radio(key="pools_map_unit_rate").value == "percent"
    assert at.checkbox(key="pools_map_dates").value is True
    assert at.selectbox(key="pools_map_orig").value == "ORIG_DT"
    assert at.selectbox(key="pools_map_mat").value == "MATURITY_DT"
    assert at.text_input(key="pools_map_datefmt").value == "%m/%d/%Y"
    assert at.radio(key="pools_bad_rows").value == "refuse"       # refusing is the default
    # without a cutoff date the derived age cannot be counted: said, nothing to save
    assert not any(b.key == "pools_save" for b in at.button)
    assert "needs the cutoff date" in reader_text(at.error)


def test_preview_save_and_import_with_a_2014_cutoff(store):
    at = _upload(_pools(), _tape())
    at.date_input(key="pools_cutoff").set_value(dt.date(2014, 6, 30)).run()
    assert not at.exception
    assert at.date_input(key="pools_cutoff").value == dt.date(2014, 6, 30)
    # 2018 loans before a 2014 cutoff: every row's origination is after the cutoff
    assert _metrics(at)["Valid rows"] == "0"
    assert "Not importable yet" in reader_text(at.markdown)
    at.date_input(key="pools_cutoff").set_value(dt.date(2018, 6, 30)).run()
    assert (_metrics(at)["Rows"], _metrics(at)["Valid rows"]) == ("40", "40")
    preview = _preview(at)
    assert preview["asset_id"].tolist()[:2] == ["SV100001", "SV100002"]
    assert preview["rate"].tolist()[0] == pytest.approx(0.1407)   # 14.07 percent
    assert preview["status"].tolist()[0] == "performing"           # CUR, by the value map
    at.text_input(key="pools_map_name").input("Servicer export").run()
    at.button(key="pools_map_save").click().run()
    assert not at.exception
    from engine.credit.workflow import list_pools, load_mapping

    saved = load_mapping("Servicer export", store=Store(store))
    assert saved.fields["balance"].column == "CURR_UPB"
    assert saved.values["status"]["CUR"] == "performing"
    assert saved.values["asset_class"] == {"PERS": "consumer_loan"}
    at.button(key="pools_save").click().run()
    assert not at.exception
    pools = list_pools(store=Store(store))
    row = pools[pools["pool_id"] == "servicer"].iloc[0]
    assert (row["source_format"], row["n_assets"], row["n_quarantined"]) == ("mapped", 40, 0)


def test_a_saved_mapping_is_reused_and_bad_rows_are_quarantined(store):
    from engine.credit.workflow import list_pools, parse_mapping, quarantined_rows, save_mapping

    save_mapping(parse_mapping((EXAMPLE / "servicer_mapping.json").read_bytes()),
                 store=Store(store))
    at = _upload(_pools(), _tape(bad_rows=(3, 7)), name="bad.csv")
    at.date_input(key="pools_cutoff").set_value(dt.date(2018, 6, 30)).run()
    at.selectbox(key="pools_map_src_balance").set_value("ORIG_AMT").run()   # a wrong pick…
    at.selectbox(key="pools_map_saved").set_value("Servicer tape example").run()
    assert at.selectbox(key="pools_map_src_balance").value == "CURR_UPB"   # …the saved one wins
    assert at.text_input(key="pools_map_name").value == "Servicer tape example"
    assert _metrics(at)["Rows with problems"] == "2"
    assert "2 rows have problems" in reader_text(at.markdown)
    assert not any(b.key == "pools_save" for b in at.button)               # refused by default
    at.radio(key="pools_bad_rows").set_value("quarantine").run()
    assert _metrics(at)["Quarantined rows"] == "2" and _metrics(at)["Loans"] == "38"
    at.button(key="pools_save").click().run()
    assert not at.exception
    assert "2 bad rows were quarantined" in reader_text(at.success)
    pools = list_pools(store=Store(store))
    assert pools.set_index("pool_id").loc["bad", "n_quarantined"] == 2
    assert quarantined_rows("bad", store=Store(store))["stresslab_source_row"].tolist() == [3, 7]
    # the stored pool says so and offers the rows
    at.selectbox(key="pools_selected").set_value("bad").run()
    assert "2 rows of this pool's tape were quarantined" in reader_text(at.markdown)
    assert any(getattr(e, "key", None) == "pools_quarantine_download"
               for e in at.get("download_button"))


# --------------------------------------------------------------------------- review fixes

def _with_cutoff(at: AppTest) -> AppTest:
    at.date_input(key="pools_cutoff").set_value(dt.date(2018, 6, 30)).run()
    assert not at.exception, at.exception
    return at


def test_a_bad_date_format_is_a_message_not_a_traceback(store):
    at = _with_cutoff(_upload(_pools(), _tape(20)))
    at.text_input(key="pools_map_datefmt").input("%m/%d/%").run()
    assert not at.exception, at.exception
    (issues,) = [d.value for d in at.dataframe if "rule" in d.value.columns]
    assert issues["field"].tolist() == ["dates.format"]
    assert "is not a valid strftime format" in issues["rule"].iloc[0]
    assert "The mapping is not complete yet" in reader_text(at.markdown)
    assert not any(b.key == "pools_save" for b in at.button)


def test_a_saved_mappings_column_the_tape_lacks_stays_and_blocks_the_import(store):
    import json

    from engine.credit.workflow import load_mapping, parse_mapping, save_mapping

    body = json.loads((EXAMPLE / "servicer_mapping.json").read_text())
    body["fields"]["default_probability"] = {"column": "PD_ANNUAL"}
    save_mapping(parse_mapping(json.dumps(body)), store=Store(store))
    at = _with_cutoff(_upload(_pools(), _tape(20)))
    at.selectbox(key="pools_map_saved").set_value("Servicer tape example").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="pools_map_src_default_probability").value == "PD_ANNUAL"
    assert "names columns this tape does not have: PD_ANNUAL" in reader_text(at.error)
    assert _metrics(at)["Valid rows"] == "0"              # as the command refuses it
    assert not any(b.key == "pools_save" for b in at.button)
    at.button(key="pools_map_save").click().run()        # saving keeps the column, unchanged
    saved = load_mapping("Servicer tape example", store=Store(store))
    assert saved.fields["default_probability"].column == "PD_ANNUAL"
    # picking "not in the tape" for it clears the message and makes the tape importable
    at.selectbox(key="pools_map_src_default_probability").set_value(
        "(not in the tape)").run()
    assert "does not have" not in reader_text(at.error)
    assert _metrics(at)["Valid rows"] == "20"


def test_numeric_status_codes_can_be_value_mapped(store):
    frame = pd.read_csv(EXAMPLE / "servicer_tape.csv", dtype=str).head(20)
    frame["DLQ_STATUS"] = ["0"] * 15 + ["1", "2", "3", "0", "0"]
    content = frame.drop(columns=["LOAN_STAT"]).to_csv(index=False).encode()
    at = _with_cutoff(_upload(_pools(), content))
    at.selectbox(key="pools_map_src_status").set_value("DLQ_STATUS").run()
    (table,) = [d.value for d in at.dataframe if "source value" in d.value.columns
                and set(d.value["source value"]) == {"0", "1", "2", "3"}]
    assert table["source value"].tolist() == ["0", "1", "2", "3"]     # most frequent first


def test_a_re_imported_pool_offers_its_new_quarantined_rows(store):
    from engine.credit.workflow import ImportPoolRequest, delete_pool, import_pool, parse_mapping

    mapping = parse_mapping((EXAMPLE / "servicer_mapping.json").read_bytes())

    def imported(bad_row: int) -> None:
        import_pool(ImportPoolRequest(content=_tape(10, bad_rows=(bad_row,)), filename="q.csv",
                                      mapping=mapping, cutoff_date=dt.date(2018, 6, 30),
                                      bad_rows="quarantine"), store=Store(store))

    def download_url(at: AppTest) -> str:
        (button,) = [e for e in at.get("download_button")
                     if e.proto.id.endswith("pools_quarantine_download")]
        return button.proto.url   # names the content: another CSV gets another url

    imported(3)
    at = _pools()
    at.selectbox(key="pools_selected").set_value("q").run()
    first = download_url(at)
    delete_pool("q", store=Store(store))
    imported(5)                      # the same count (1), another row
    at.run()
    assert not at.exception, at.exception
    assert download_url(at) != first

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


@pytest.fixture()
def store(tmp_path, monkeypatch):
    import streamlit as st

    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("STRESSLAB_DB", str(path))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


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
    assert quarantined_rows("bad", store=Store(store))["source_row"].tolist() == [3, 7]
    # the stored pool says so and offers the rows
    at.selectbox(key="pools_selected").set_value("bad").run()
    assert "2 rows of this pool's tape were quarantined" in reader_text(at.markdown)
    assert any(getattr(e, "key", None) == "pools_quarantine_download"
               for e in at.get("download_button"))

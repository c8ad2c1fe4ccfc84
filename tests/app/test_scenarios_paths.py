"""AppTest of the Scenarios page's Federal Reserve upload and path chart (issue 10).

What the page stored is read back through the workflow functions on ``Store(path)``.
"""

from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
FED_2026 = ROOT / "data" / "fed_supervisory_scenarios_2026_proposed"



def _scenarios_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    at.switch_page("../pages/scenarios.py").run()
    assert not at.exception, at.exception
    return at


def _values(arr) -> list[float]:
    """A Plotly trace array as sent to the browser (a list, or base64 of its dtype)."""
    if isinstance(arr, dict):
        import numpy as np
        return np.frombuffer(base64.b64decode(arr["bdata"]), dtype=arr["dtype"]).tolist()
    return list(arr)


def _zip_2026() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(FED_2026.glob("*.csv")):
            zf.write(p, p.name)
    return buf.getvalue()


def test_the_library_marks_path_scenarios_and_draws_the_fed_path(store):
    at = _scenarios_page()
    table = at.dataframe[0].value.set_index("key")
    assert table.loc["fed_2025_severely_adverse_path", "path"] == "39 months"  # 13 quarters × 3
    assert table.loc["fed_2025_severely_adverse", "path"] == ""  # the peak reading is constant
    assert at.selectbox(key="scen_path_pick").value == "fed_2025_baseline_path"
    at.selectbox(key="scen_path_pick").set_value("fed_2025_severely_adverse_path").run()
    assert not at.exception, at.exception
    chart = at.get("plotly_chart")[0]
    fig = json.loads(chart.proto.spec)
    lines = {t["name"]: t for t in fig["data"]}
    assert set(lines) == {"Default multiplier", "Recovery multiplier", "Interest-rate shock",
                          "Spread widening"}
    dm = _values(lines["Default multiplier"]["y"])
    assert len(dm) == 39 + 12
    assert dm[:4] == [5.6 / 4.1] * 3 + [6.8 / 4.1]  # 2025 Q1 then Q2 unemployment / 4.1
    peaks = at.dataframe[1].value.set_index("Factor")["Peak"]
    assert peaks["Default multiplier"] == "2.439×"  # 10.0 / 4.1
    assert peaks["Interest-rate shock"] == "-3.60 pp"


def test_a_zip_of_the_2026_tables_uploads_and_its_path_is_drawn(store):
    at = _scenarios_page()
    at.file_uploader(key="scen_fed_upload").set_value(
        [("fed_2026_proposed.zip", _zip_2026(), "application/zip")]).run()
    at.button(key="scen_fed_go").click().run()
    assert not at.exception, at.exception
    assert "Federal Reserve 2026 scenarios" in at.success[0].value
    assert "fed\\_2026\\_severely\\_adverse\\_path" in at.success[0].value
    from engine.credit.workflow import custom_scenarios
    from engine.store import Store
    lib = custom_scenarios(store=Store(store))
    assert list(lib) == ["fed_2026_baseline", "fed_2026_severely_adverse",
                         "fed_2026_baseline_path", "fed_2026_severely_adverse_path"]
    at.selectbox(key="scen_path_pick").set_value("fed_2026_severely_adverse_path").run()
    assert not at.exception, at.exception
    peaks = at.dataframe[1].value.set_index("Factor")["Peak"]
    assert peaks["Default multiplier"] == "2.222×"  # 10.0 / 4.5


def test_a_malformed_upload_is_refused_with_the_file_named_and_nothing_stored(store):
    at = _scenarios_page()
    bad = (FED_2026 / "2026_Proposed_Supervisory_Baseline_Domestic.csv").read_bytes().replace(
        b"2026 Q3", b"2026 Q4", 1)
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(FED_2026.glob("*.csv"))
             if "Baseline_Domestic" not in p.name]
    files.append(("2026_Proposed_Supervisory_Baseline_Domestic.csv", bad, "text/csv"))
    at.file_uploader(key="scen_fed_upload").set_value(files).run()
    at.button(key="scen_fed_go").click().run()
    assert not at.exception, at.exception
    shown = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(e.value for e in at.error))
    assert "2026_Proposed_Supervisory_Baseline_Domestic.csv" in shown
    assert "2 problems found; nothing was stored" in shown
    issues = next(d.value for d in at.dataframe if "rule" in d.value.columns)
    # the moved quarter (row 3), then the one after it no longer follows (row 4)
    assert issues["row"].tolist() == [3, 4] and set(issues["field"]) == {"Date"}
    assert issues["rule"].iloc[0] == "quarters follow each other: 2026 Q3 comes after 2026 Q2"
    from engine.credit.workflow import custom_scenarios
    from engine.store import Store
    assert custom_scenarios(store=Store(store)) == {}

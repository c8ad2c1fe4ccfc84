"""AppTest of the credit pages, driven through the entry script (so the store is seeded and
st.navigation is in place): every page renders, the scenario form builds a scenario, a good and a
bad upload, a run shows results and is reopened from the store, a busy store is said plainly.
What the pages stored is read back through the workflow functions on ``Store(path)``."""

from __future__ import annotations

import ast
import gzip
import io
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"
PAGES = ("pools", "scenarios", "stress_test")



def _store(path: Path):
    from engine.store import Store

    return Store(path)


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(f"../pages/{page}.py").run()
        assert not at.exception, at.exception
    return at


def _texts(elements) -> str:
    """The elements' text as a reader sees it: Markdown's backslash escapes dropped (the pages
    escape user text and engine messages with ``dashboard.components.format.plain``)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(str(e.value) for e in elements))


def _small_tape(n: int = 40) -> bytes:
    """The first ``n`` loans of the real Lending Club tape, as CSV bytes."""
    frame = pd.read_csv(TAPE, nrows=n)
    return frame.to_csv(index=False).encode()


# --------------------------------------------------------------------------- rendering

def test_home_renders_on_the_seeded_pool(store):
    at = _app()
    assert at.title[0].value == "StressLab"
    # the decision summary on a store with the seeded pool and no run of any kind
    assert [m.value for m in at.metric] == ["no run yet"] * 4
    assert "No stress run yet" in _texts(at.info)
    assert len(at.get("page_link")) == 7  # a link per tile, and 3 workflow links


@pytest.mark.parametrize("page,title", [("pools", "Pools"), ("scenarios", "Scenarios"),
                                        ("stress_test", "Stress test")])
def test_every_page_renders(store, page, title):
    at = _app(page)
    assert at.title[0].value == title
    assert not at.error


def test_pools_page_shows_the_seeded_pool_statistics(store):
    at = _app("pools")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Loans"] == "10,000"
    assert metrics["Balance (USD)"] == "$144.7M"
    assert metrics["Weighted average rate"] == "12.66%"
    assert metrics["Weighted average maturity"] == "42.2 months"
    assert len(at.get("plotly_chart")) == 3


# --------------------------------------------------------------------------- uploads

def test_good_upload_is_checked_then_stored(store):
    at = _app("pools")
    at.file_uploader(key="pools_upload").set_value(("forty.csv", _small_tape(), "text/csv")).run()
    assert not at.exception
    assert "Lending Club loan tape" in _texts(at.info)
    assert not at.error
    assert {m.label: m.value for m in at.metric}["Loans"] == "40"
    at.button(key="pools_save").click().run()
    assert not at.exception
    assert "Stored pool" in _texts(at.success)
    from engine.credit.workflow import list_pools

    assert set(list_pools(store=_store(store))["pool_id"]) == {"lendingclub-2018q1", "forty"}
    # the new pool is on the stored-pools tab at once (the pool caches were cleared)
    assert at.selectbox(key="pools_selected").value == "forty"
    assert {m.label: m.value for m in at.metric}["Loans"] == "40"
    at.button(key="pools_save").click().run()  # the same tape again: nothing is written
    assert not at.exception
    assert "already stored as forty;" in _texts(at.info)
    assert len(list_pools(store=_store(store))) == 2


def test_bad_upload_lists_every_problem_and_stores_nothing(store):
    frame = pd.read_csv(io.BytesIO(_small_tape(5))).astype({"interest_rate": object})
    frame.loc[1, "interest_rate"] = "abc"
    frame.loc[3, "loan_amount"] = -100
    at = _app("pools")
    at.file_uploader(key="pools_upload").set_value(
        ("bad.csv", frame.to_csv(index=False).encode(), "text/csv")).run()
    assert not at.exception
    assert "nothing was stored" in _texts(at.error)
    issues = next(d.value for d in at.dataframe if "rule" in d.value.columns)
    assert list(issues.columns) == ["row", "field", "value", "rule"]
    assert 2 in set(issues["row"])  # the bad interest rate, 1-based data row
    assert not any(b.key == "pools_save" for b in at.button)
    from engine.credit.workflow import list_pools

    assert list(list_pools(store=_store(store))["pool_id"]) == ["lendingclub-2018q1"]


def test_edited_assumption_is_applied_to_the_upload(store):
    from dashboard.components.credit import cached_assumptions, read_upload

    edited = cached_assumptions()[["asset_class", "grade", "prepayment_speed",
                                   "default_probability", "recovery_rate", "recovery_lag",
                                   "delinquent_default_probability"]].copy()
    row = (edited["asset_class"] == "consumer_loan") & edited["grade"].isna()
    edited.loc[row, "recovery_rate"] = 0.25
    edited.loc[edited["asset_class"] == "consumer_loan", "recovery_rate"] = 0.25
    pool = read_upload(_small_tape(), "forty.csv", fmt="auto", pool_id=None, pool_name=None,
                       cutoff_date=None, edited_assumptions=edited)
    assert (pool.frame["recovery_rate"] == 0.25).all()
    fills = [a for a in pool.assumptions if a["field"] == "recovery_rate"]
    assert fills and all(a["source"] == "edited in the app" for a in fills)


# --------------------------------------------------------------------------- scenarios

def test_scenario_form_builds_and_saves_a_scenario(store):
    at = _app("scenarios")
    at.text_input(key="scen_key").set_value("deep_recession")
    at.text_input(key="scen_name").set_value("Deep recession")
    at.number_input(key="scen_f_default_multiplier").set_value(3.5)
    at.number_input(key="scen_f_recovery_multiplier").set_value(0.5)
    at.number_input(key="scen_f_spread_widening").set_value(4.0)  # percentage points
    at.button[[b.label for b in at.button].index("Save scenario")].click().run()
    assert not at.exception
    assert not at.error
    assert "Saved custom scenario" in _texts(at.success)
    from engine.credit.workflow import custom_scenarios

    sc = custom_scenarios(store=_store(store))["deep_recession"]
    assert sc.name == "Deep recession"
    assert sc.market_factors.named() == {"default_multiplier": 3.5, "recovery_multiplier": 0.5,
                                         "spread_widening": 0.04}


def test_scenario_form_refuses_a_builtin_key(store):
    at = _app("scenarios")
    at.text_input(key="scen_key").set_value("credit_crisis")
    at.button[[b.label for b in at.button].index("Save scenario")].click().run()
    assert not at.exception
    assert _texts(at.error).startswith("custom scenario 'credit_crisis': 1 problem found")
    issue = at.dataframe[-1].value.iloc[0]  # show_error's table: field, value, rule
    assert (issue["field"], issue["value"]) == ("key", "credit_crisis")
    assert "'credit_crisis' is a built-in scenario" in issue["rule"]


def test_start_from_fills_the_form(store):
    at = _app("scenarios")
    at.selectbox(key="scen_start").set_value("credit_crisis").run()
    assert at.number_input(key="scen_f_default_multiplier").value == 3.0
    assert at.text_input(key="scen_key").value == "credit_crisis_custom"


def test_scenario_import_then_duplicate_and_delete(store):
    at = _app("scenarios")
    payload = {"mild": {"name": "Mild", "description": "", "market_factors":
                        {"default_multiplier": 1.3}}}
    at.file_uploader(key="scen_import").set_value(
        ("s.json", json.dumps(payload).encode(), "application/json")).run()
    at.button(key="scen_import_go").click().run()
    assert not at.exception
    assert "Imported 1 scenario" in _texts(at.success)
    at.button(key="scen_duplicate").click().run()
    assert "Duplicated mild as mild_copy." in _texts(at.success)
    at.selectbox(key="scen_manage").set_value("mild")
    at.checkbox(key="scen_confirm_delete").check().run()
    at.button(key="scen_delete").click().run()
    assert not at.exception
    from engine.credit.workflow import custom_scenarios

    assert set(custom_scenarios(store=_store(store))) == {"mild_copy"}


def test_scenario_import_out_of_range_is_refused(store):
    at = _app("scenarios")
    payload = {"wild": {"name": "Wild", "market_factors": {"default_multiplier": 9.0}}}
    at.file_uploader(key="scen_import").set_value(
        ("s.json", json.dumps(payload).encode(), "application/json")).run()
    at.button(key="scen_import_go").click().run()
    assert not at.exception
    assert _texts(at.error).startswith("s.json: 1 problem found")
    assert "outside its valid range" in at.dataframe[-1].value["rule"].iloc[0]  # show_error's issues
    from engine.credit.workflow import custom_scenarios

    assert custom_scenarios(store=_store(store)) == {}  # all or nothing


# --------------------------------------------------------------------------- stress test

def test_run_shows_results_and_reopens_from_the_store(store):
    at = _app("stress_test")
    assert "No stored run yet" in _texts(at.info)
    at.multiselect(key="stress_scenarios").set_value(["credit_crisis", "housing_boom"])
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception
    assert not at.error
    assert [s.value for s in at.subheader] == ["Results"]
    assert len(at.get("plotly_chart")) == 2  # NPV change, and the open tab's balance chart
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Loans"] == "10,000"
    assert metrics["Discount rate (annual)"] == "5.00%"
    table = at.dataframe[0].value
    assert list(table["name"]) == ["Base Case", "Credit Crisis", "Housing Boom"]
    assert "status" not in table  # shown only when a scenario failed
    crisis = table[table["name"] == "Credit Crisis"].iloc[0]
    base = table[table["name"] == "Base Case"].iloc[0]
    assert crisis["npv_change"] < 0 and crisis["total_loss"] > base["total_loss"]
    assert {d.key for d in at.get("download_button")} >= {"stress_dl_json", "stress_dl_metrics",
                                                          "stress_dl_cf"}

    # the run is stored: a new session reopens it without running anything
    from engine.credit.workflow import list_runs

    runs = list_runs(store=_store(store))
    assert len(runs) == 1 and runs["status"].iloc[0] == "success"
    assert f"Done: 3 scenarios stored as {runs['run_id'].iloc[0]}" in _texts(at.success)
    again = _app("stress_test")
    assert again.selectbox(key="stress_open_run").value == runs["run_id"].iloc[0]
    assert list(again.dataframe[0].value["name"]) == ["Base Case", "Credit Crisis",
                                                      "Housing Boom"]


def test_cancelled_run_is_stored_with_its_cancelled_scenarios(store):
    """Cancel set before the workers start: every scenario ends as cancelled, and the workflow
    still stores the run (as ``error``) with one result row per scenario."""
    from datetime import date

    from dashboard.components.credit import stress_request
    from dashboard.components.jobs import finish_run, poll_run, start_run

    _app("stress_test")  # seeds the store
    request = stress_request(pool_id="lendingclub-2018q1", scenario_names=["base", "credit_crisis"],
                             discount_rate=0.05, analysis_date=date(2018, 6, 30),
                             projection_periods=None, include_loan_level=False)
    cancel = threading.Event()
    cancel.set()
    job = start_run(request, cancel=cancel)
    assert job.n_total == 2
    seen = []
    poll_run(job, lambda *ev: seen.append(ev))
    run_id = finish_run(job)
    from engine.credit.workflow import list_runs, load_run

    result = load_run(run_id, store=_store(store)).result
    assert {k: (r.status, r.error) for k, r in result.scenarios.items()} == {
        "base": ("error", "cancelled by the user"),
        "credit_crisis": ("error", "cancelled by the user")}
    assert [ev[3] for ev in seen] == [1, 2]
    assert list_runs(store=_store(store))["status"].tolist() == ["error"]


def test_stress_settings_the_request_refuses_are_a_validation_error(store):
    """A setting pydantic refuses reaches the page as the engine's ValidationError (a
    StressLabError the page shows), naming the field."""
    from dashboard.components.credit import stress_request
    from engine.errors import ValidationError

    with pytest.raises(ValidationError) as info:
        stress_request(pool_id="lendingclub-2018q1", scenario_names=["base"],
                       discount_rate="five percent", analysis_date=None)
    assert [i.column for i in info.value.issues] == ["discount_rate"]
    with pytest.raises(ValidationError) as info:
        stress_request(pool_id="lendingclub-2018q1", scenario_names=["base"], bogus=1)
    assert [i.column for i in info.value.issues] == ["bogus"]


@pytest.mark.parametrize("tab,n_charts", [("Cashflows", 2), ("Losses", 3),
                                           ("WAL and duration", 2)])
def test_each_result_tab_renders(store, tab, n_charts):
    at = _app("stress_test")
    at.button(key="stress_run").click().run(timeout=120)
    at.session_state["stress_tab"] = tab
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == n_charts


def test_base_only_run(store):
    at = _app("stress_test")
    at.multiselect(key="stress_scenarios").set_value([])
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception
    assert list(at.dataframe[0].value["name"]) == ["Base Case"]


def test_downloads_are_the_response_and_escaped_csv(store):
    from engine.credit import make_scenario
    from engine.credit.workflow import save_scenario

    _app("stress_test")  # seeds the store
    save_scenario("evil", scenario=make_scenario('=HYPERLINK("http://x")',
                                                 market_factors={"default_multiplier": 2}),
                  store=_store(store))
    at = _app("stress_test")
    at.multiselect(key="stress_scenarios").set_value(["credit_crisis", "evil"])
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception
    from dashboard.components.credit import (
        cashflows_csv,
        cashflows_parquet,
        metrics_csv,
        response_json,
    )
    from engine.export import read_csv

    run_id = at.selectbox(key="stress_open_run").value
    response = json.loads(response_json(run_id))
    assert set(response) == {"base", "credit_crisis", "evil"}
    assert {"pool_name", "analysis_date", "status", "execution_time", "metrics", "analytics",
            "cache_hit"} <= set(response["base"])
    assert "stress_test_report" in response["base"]["analytics"]
    metrics = read_csv(metrics_csv(run_id))  # skips the "# key: value" provenance block
    assert metrics.set_index("scenario").loc["evil", "name"] == "'=HYPERLINK(\"http://x\")"
    cf = pd.read_parquet(io.BytesIO(cashflows_parquet(run_id)))
    assert set(cf["scenario"]) == set(response)
    cf_csv = read_csv(cashflows_csv(run_id))
    assert len(cf_csv) == len(cf)


def test_drill_down_shows_a_loan_path(store):
    at = _app("stress_test")
    assert at.checkbox(key="stress_loan_level").value is False  # off above 5,000 loans
    at.checkbox(key="stress_loan_level").check()
    at.button(key="stress_run").click().run(timeout=120)
    at.session_state["stress_tab"] = "Loan drill-down"  # tabs run lazily: open this one
    at.run()
    assert at.selectbox(key="stress_drill_scenario").value == "base"
    at.selectbox(key="stress_drill_scenario").set_value("credit_crisis").run()
    assert not at.exception
    assert at.selectbox(key="stress_drill_loan").value is not None
    # NPV change, loss by grade, the loan's path
    assert len(at.get("plotly_chart")) == 3


def test_gzip_tape_is_read(store):
    """The .csv.gz upload path the browser takes (the real tape, gzip-compressed)."""
    from dashboard.components.credit import detect_upload_format

    content = gzip.compress(_small_tape(10))
    assert detect_upload_format(content, "tape.csv.gz") == "lendingclub"


def test_drill_down_says_when_the_pool_is_gone(store):
    """A run stays readable after its pool is deleted; only the loan's path needs the pool."""
    from dashboard.components.credit import remove_pool
    from engine.credit.workflow import ImportPoolRequest, import_pool

    at = _app("stress_test")
    at.checkbox(key="stress_loan_level").check()
    at.button(key="stress_run").click().run(timeout=120)
    import_pool(ImportPoolRequest(content=_small_tape(), filename="forty.csv", format="auto"),
                store=_store(store))  # another pool, so the page still has one to offer
    remove_pool("lendingclub-2018q1")
    at.session_state["stress_tab"] = "Loan drill-down"
    at.run()
    assert not at.exception
    assert "no longer stored" in _texts(at.info)
    assert len(at.get("plotly_chart")) == 2  # NPV change, loss by grade; no loan path


# --------------------------------------------------------------------------- a busy store

HOLD = """
import sys, time
from engine.store import Store
with Store(sys.argv[1]).write():
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_busy_store_at_startup_is_a_plain_message(store, monkeypatch):
    """Another process writing to the store: the app says so plainly (no traceback), then seeds
    on the next rerun once the store is free."""
    from dashboard.state import BUSY_MESSAGE

    monkeypatch.setenv("STRESSLAB_LOCK_TIMEOUT", "0.2")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(store)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert holder.stdout.readline().strip() == "held"
        at = AppTest.from_file(APP, default_timeout=120).run()
        assert not at.exception
        assert not at.error
        assert "The store is busy" in _texts(at.toast)  # from startup
        assert [w.value for w in at.warning] == [BUSY_MESSAGE]  # from the page, once
        assert f"process {holder.pid}" in _texts(at.text)  # who holds it
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    at.run()
    assert not at.exception
    from engine.credit.workflow import list_pools
    from engine.store import Store
    assert len(list_pools(store=Store(store))) == 1  # seeded once the store was free
    assert "The store is busy" not in _texts(at.warning)


# --------------------------------------------------------------------------- layering

#: The credit pages and the dashboard modules this file covers.
LAYERED = [ROOT / "pages" / f"{p}.py" for p in ("home", *PAGES)] + [
    ROOT / "dashboard" / "shell.py",
    *(ROOT / "dashboard" / "components" / f"{m}.py"
      for m in ("credit", "credit_charts", "jobs", "format"))]


@pytest.mark.parametrize("path", LAYERED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_pages_call_workflows_not_the_store(path):
    """No SQL and no store module below the workflows in the credit pages or their components."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {m for m in imported if m == "engine.store" or m.startswith("engine.store.")
                or m.endswith("._store")}
    sql = re.compile(r"^\s*(SELECT\b.*\bFROM|INSERT\s+INTO|DELETE\s+FROM|UPDATE\s+\w+\s+SET)\b",
                     re.DOTALL)
    assert not [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                and isinstance(n.value, str) and sql.match(n.value)]
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "attr", "") in ("execute", "executemany", "sql")]

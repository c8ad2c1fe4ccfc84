"""AppTest of the Stress test page's finish: the form shows the run shown (after a reload, and
when another run is chosen) or says how it differs, "Cancel run" goes when the run ends, Material
icons instead of emoji, running needs the ``run_stress`` role (leadership reads and downloads),
the run records who asked, and the run's report downloads (HTML and PDF) are offered and built
from the store on click."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "dashboard" / "app.py")
#: Emoji and pictographs (the ✅ and ⚠️ marks Debian's Chromium drew as empty boxes).
EMOJI = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff\ufe0f]")



def _store(path: Path):
    from engine.store import Store

    return Store(path)


def _user(path: Path, name: str, role: str):
    """A user stored with ``role``, signed in (the principal the sign-in page would keep)."""
    from engine.auth import Principal
    from engine.auth.workflow import UserRequest, add_user

    add_user(UserRequest(name=name, role=role), password="a long password", store=_store(path))
    return Principal(user=name, role=role, token_id="password")


def _app(*, principal=None) -> AppTest:
    """A new browser session (as after a reload) on the Stress test page."""
    at = AppTest.from_file(APP, default_timeout=120)
    if principal is not None:
        at.session_state["_principal"] = principal
    at.run()
    assert not at.exception, at.exception
    at.switch_page("../pages/stress_test.py").run()
    assert not at.exception, at.exception
    return at


def _texts(elements) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", "\n".join(str(e.value) for e in elements))


def _run(at: AppTest, *, scenarios: list[str], discount: float | None, periods: int) -> str:
    """Fill the form, run, and return the id of the run now shown (``discount`` None: the
    form discounts on the curve, no flat rate to set)."""
    at.multiselect(key="stress_scenarios").set_value(scenarios)
    if discount is not None:
        at.number_input(key="stress_discount").set_value(discount)
    at.number_input(key="stress_periods").set_value(periods)
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception, at.exception
    return at.selectbox(key="stress_open_run").value


def _form(at: AppTest) -> dict:
    return {"pool": at.selectbox(key="stress_pool").value,
            "scenarios": at.multiselect(key="stress_scenarios").value,
            "discount": at.number_input(key="stress_discount").value,
            "date": at.date_input(key="stress_date").value,
            "periods": at.number_input(key="stress_periods").value}


# --------------------------------------------------------------------------- form and run shown

def test_after_a_reload_the_form_shows_the_run_shown(store):
    first = _app()
    run_id = _run(first, scenarios=["credit_crisis"], discount=7.5, periods=24)

    again = _app()  # a reload: a new session, nothing kept but the store
    assert again.selectbox(key="stress_open_run").value == run_id
    assert _form(again) == {"pool": "lendingclub-2018q1", "scenarios": ["credit_crisis"],
                            "discount": 7.5, "date": date(2018, 6, 30), "periods": 24}
    assert "differs from this run" not in _texts(again.info)
    # the caption under the results names the same settings
    metrics = {m.label: m.value for m in again.metric}
    assert metrics["Discount rate (annual)"] == "7.50%"
    assert metrics["Horizon (months)"] == "24"


def test_a_changed_form_says_how_it_differs_and_can_take_the_run_back(store):
    at = _app()
    _run(at, scenarios=["credit_crisis"], discount=7.5, periods=24)
    at.number_input(key="stress_discount").set_value(6.0).run()
    at.multiselect(key="stress_scenarios").set_value(["credit_crisis", "housing_boom"]).run()
    notes = _texts(at.info)
    assert ("The form above differs from this run in its scenarios and discount rate: "
            "**Run stress test** uses the form's settings, not this run's.") in notes
    at.button(key="stress_use_run").click().run()
    assert not at.exception
    assert _form(at)["discount"] == 7.5
    assert _form(at)["scenarios"] == ["credit_crisis"]
    assert "differs from this run" not in _texts(at.info)


def test_choosing_another_run_puts_its_settings_in_the_form(store):
    at = _app()
    older = _run(at, scenarios=["credit_crisis"], discount=7.5, periods=24)
    newer = _run(at, scenarios=["housing_boom"], discount=4.0, periods=0)
    assert newer != older and _form(at)["discount"] == 4.0
    at.selectbox(key="stress_open_run").set_value(older).run()
    assert not at.exception
    assert _form(at) == {"pool": "lendingclub-2018q1", "scenarios": ["credit_crisis"],
                         "discount": 7.5, "date": date(2018, 6, 30), "periods": 24}
    assert {m.label: m.value for m in at.metric}["Discount rate (annual)"] == "7.50%"


def test_settings_of_a_stored_run_are_those_it_computed(store):
    """A run asked for "all" (as the command line does) lists every scenario it ran."""
    from dashboard.components.credit import cached_run
    from dashboard.components.stress import form_differences, settings_of_run
    from engine.credit.workflow import StressRunRequest, run_stress, scenario_library

    _app()  # seeds the store
    run = run_stress(StressRunRequest(pool_id="lendingclub-2018q1", scenario_names=["all"],
                                      discount_rate=0.06, projection_periods=36),
                     store=_store(store))
    library = scenario_library(store=_store(store))
    settings = settings_of_run(cached_run(run.run_id), library=library)
    assert settings.scenarios == tuple(k for k in library if k != "base")
    assert (settings.discount_pct, settings.periods) == (6.0, 36)
    assert settings.analysis_date == date(2018, 6, 30)
    changed = settings.__class__(**{**settings.__dict__, "periods": 12, "loan_level": True})
    assert form_differences(changed, settings) == ["projection periods"]


# --------------------------------------------------------------------------- the run's progress

def test_cancel_goes_and_marks_are_material_icons_once_the_run_ends(store):
    at = _app()
    at.session_state["stress_live_after"] = 0  # live progress from the start, with Cancel
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception
    assert "stress_cancel" not in [b.key for b in at.button]
    assert [s.label for s in at.get("status")] == ["4 scenarios ended"]
    marks = [m.value for m in at.markdown if "material/" in str(m.value)]
    assert sum(":material/check_circle:" in m for m in marks) == 4  # base + the 3 defaults
    run_id = at.selectbox(key="stress_open_run").value
    assert f"Done: 4 scenarios stored as {run_id}" in _texts(at.success)
    assert at.success[0].icon == ":material/check_circle:"
    shown = "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning",
                                                "metric", "subheader", "title")
                      for e in at.get(kind))
    shown += "\n".join(s.label for s in at.get("status")) + "\n".join(b.label for b in at.button)
    assert not EMOJI.search(shown), EMOJI.findall(shown)


def test_a_quick_run_is_shown_finished_without_live_progress(store):
    at = _app()
    at.session_state["stress_live_after"] = 600  # wait for the end, however slow the machine
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception
    assert not at.get("status") and "stress_cancel" not in [b.key for b in at.button]
    run_id = at.selectbox(key="stress_open_run").value
    assert f"Done: 4 scenarios stored as {run_id}" in _texts(at.success)


# --------------------------------------------------------------------------- roles

def test_leadership_reads_results_but_may_not_run(store):
    from engine.credit.workflow import list_runs

    analyst = _app()
    run_id = _run(analyst, scenarios=["credit_crisis"], discount=5.0, periods=0)
    lee = _app(principal=_user(store, "lee", "leadership"))
    assert not [b for b in lee.button if b.key == "stress_run"]
    assert not [s for s in lee.selectbox if s.key == "stress_pool"]
    assert "Your role (leadership) may not run a stress test" in _texts(lee.info)
    assert lee.selectbox(key="stress_open_run").value == run_id  # the results are there
    assert list(lee.dataframe[0].value["name"]) == ["Base Case", "Credit Crisis"]
    assert {d.key for d in lee.get("download_button")} >= {"stress_dl_json", "stress_report_pdf"}
    assert len(list_runs(store=_store(store))) == 1


def test_a_run_from_the_app_records_the_signed_in_user(store):
    from engine.credit.workflow import load_run

    at = _app(principal=_user(store, "ana", "analyst"))
    run_id = _run(at, scenarios=["credit_crisis"], discount=5.0, periods=12)
    assert load_run(run_id, store=_store(store)).request.requested_by == "ana"
    assert "run by ana" in _texts(at.caption)


# --------------------------------------------------------------------------- reports

def test_the_run_report_is_offered_and_built_from_the_store(store):
    from dashboard.components.stress import report_bytes

    at = _app()
    run_id = _run(at, scenarios=["credit_crisis"], discount=5.0, periods=0)
    buttons = {d.key: d for d in at.get("download_button")}
    assert {"stress_report_html", "stress_report_pdf"} <= set(buttons)
    html = report_bytes(run_id, "html")().decode("utf-8")
    assert run_id in html and "Credit Crisis" in html
    pdf = report_bytes(run_id, "pdf")()
    assert pdf.startswith(b"%PDF")


# --------------------------------------------------------------------------- issue 10: dates,
# discounting on the Treasury curve, the residual at a horizon, provenance in every download

def _pool_of_2013(path: Path) -> str:
    """The stored Lending Club loans stored again as a pool with a cutoff date of 2013-12-31."""
    import dataclasses

    from engine.credit.workflow import load_pool, save_pool

    pool = load_pool("lendingclub-2018q1", store=_store(path))
    save_pool(dataclasses.replace(pool, pool_id="lc-2013", pool_name="Lending Club as of 2013",
                                  cutoff_date=date(2013, 12, 31)),
              source_file="test", store=_store(path))
    return "lc-2013"


def test_a_2014_analysis_date_is_accepted_and_rolls_the_pool_forward(store):
    from engine.credit.workflow import load_run

    _app()  # seeds the store
    pool_id = _pool_of_2013(store)
    at = _app()
    at.selectbox(key="stress_pool").set_value(pool_id).run()
    assert at.date_input(key="stress_date").value == date(2013, 12, 31)  # the pool's cutoff
    picker = at.date_input(key="stress_date").proto
    assert picker.min == "1990-01-01"
    assert "A date before the cutoff is refused" in picker.help
    at.date_input(key="stress_date").set_value(date(2014, 6, 30)).run()
    run_id = _run(at, scenarios=["credit_crisis"], discount=5.0, periods=0)
    run = load_run(run_id, store=_store(store))
    assert run.request.analysis_date == date(2014, 6, 30)
    assert run.result.valuation["rolled_forward_months"] == 6  # 2013-12-31 → 2014-06-30
    assert ("analysis date 2014-06-30 (rolled forward 6 months from the cutoff date "
            "2013-12-31)") in _texts(at.caption)
    # a date before the cutoff is refused, with the reason, and nothing is stored
    at.date_input(key="stress_date").set_value(date(2013, 6, 30)).run()
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception
    assert "is before pool 'Lending Club as of 2013''s cutoff date 2013-12-31" in \
        _texts(at.error) + _texts(at.get("text"))
    assert at.selectbox(key="stress_open_run").value == run_id


def test_curve_discounting_draws_the_curve_runs_and_is_recorded(store):
    from engine.credit.workflow import load_run

    at = _app()
    at.number_input(key="stress_discount").set_value(6.5).run()
    at.radio(key="stress_discounting").set_value("curve").run()
    assert not at.exception
    assert not [n for n in at.number_input if n.key == "stress_discount"]  # no flat rate
    # the curve date follows the analysis date, 2018-06-30, a Saturday: the Friday is used
    assert at.date_input(key="stress_curve_date").value == date(2018, 6, 30)
    assert at.date_input(key="stress_curve_date").proto.max == "2022-03-11"
    assert ("**US Treasury zero curve of 2018-06-29** (2018-06-30 is not in the file: the "
            "nearest earlier date is used)") in [m.value for m in at.markdown]
    assert [c.key for c in at.get("plotly_chart")] == ["stress_curve_chart"]  # no run yet
    at.number_input(key="stress_spread").set_value(150.0).run()
    at.multiselect(key="stress_scenarios").set_value(["rate_shock_up"])
    at.button(key="stress_run").click().run(timeout=120)
    assert not at.exception
    run_id = at.selectbox(key="stress_open_run").value
    run = load_run(run_id, store=_store(store))
    assert (run.request.discounting, run.request.curve_date, run.request.curve_spread) == \
        ("curve", date(2018, 6, 30), 0.015)
    assert run.result.valuation["curve_date_used"] == "2018-06-29"
    assert run.result.valuation["curve_spread"] == 0.015
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["UST curve 2018-06-29"] == "+150 bp"
    assert "Discount rate (annual)" not in metrics
    assert ("Discounting: US Treasury zero curve of 2018-06-29 (asked 2018-06-30, not in the "
            "file: the nearest earlier date), bootstrapped from the par yields, plus a spread "
            "of +150 bp (1.50%)") in _texts(at.caption)
    # a reload: the form follows the run shown, curve, date and spread included
    again = _app()
    assert again.radio(key="stress_discounting").value == "curve"
    assert again.date_input(key="stress_curve_date").value == date(2018, 6, 30)
    assert again.number_input(key="stress_spread").value == 150.0
    assert "differs from this run" not in _texts(again.info)
    again.number_input(key="stress_spread").set_value(100.0).run()
    assert "differs from this run in its curve spread" in _texts(again.info)
    again.radio(key="stress_discounting").set_value("flat").run()
    assert "differs from this run in its discounting:" in _texts(again.info)
    assert again.number_input(key="stress_discount").value == 6.5  # the form's flat rate
    # in the first session too, the flat rate hidden while on the curve is kept
    at.radio(key="stress_discounting").set_value("flat").run()
    assert at.number_input(key="stress_discount").value == 6.5


def test_the_residual_share_is_shown_when_the_horizon_cuts_the_run_off(store):
    from dashboard.components.format import pct
    from engine.credit.workflow import load_run

    at = _app()
    assert not [r for r in at.radio if r.key == "stress_residual"]  # full run-off: no choice
    at.number_input(key="stress_periods").set_value(24).run()
    at.radio(key="stress_residual").set_value("run_off").run()
    run_id = _run(at, scenarios=["credit_crisis"], discount=5.0, periods=24)
    run = load_run(run_id, store=_store(store))
    assert run.request.residual_valuation == "run_off"
    base = run.result.scenarios["base"].metrics
    assert 0.0 < base["residual_share"] < 1.0
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Residual share (base)"] == pct(base["residual_share"])
    table = at.dataframe[0].value
    assert {"residual_share", "residual_value", "loss_beyond_horizon"} <= set(table.columns)
    assert list(table["residual_share"]) == [
        run.result.scenarios[k].metrics["residual_share"] for k in ("base", "credit_crisis")]
    full = run.result.valuation["full_run_off_months"]
    assert (f"The 24-month horizon stops short of the {full}-month run-off") in _texts(at.caption)
    assert "each scenario's own run-off beyond the horizon" in _texts(at.caption)
    # full run-off: nothing left, nothing said
    _run(at, scenarios=["credit_crisis"], discount=5.0, periods=0)
    assert "Residual share (base)" not in {m.label for m in at.metric}
    assert "residual_share" not in at.dataframe[0].value.columns
    assert "horizon stops short" not in _texts(at.caption)


def test_every_download_reads_back_with_its_provenance(store):
    import io
    import json

    import pandas as pd

    from dashboard.components.credit import (cashflows_csv, cashflows_parquet, loan_level_csv,
                                             loan_level_parquet, metrics_csv, response_json)
    from engine.credit.workflow import load_run
    from engine.export import read_csv, read_provenance

    at = _app()
    at.checkbox(key="stress_loan_level").check()
    at.radio(key="stress_discounting").set_value("curve").run()
    at.date_input(key="stress_curve_date").set_value(date(2014, 6, 30)).run()
    run_id = _run(at, scenarios=["credit_crisis"], discount=None, periods=36)
    keys = {d.key for d in at.get("download_button")}
    assert {"stress_dl_json", "stress_dl_metrics", "stress_dl_cf", "stress_dl_cf_parquet",
            "stress_dl_loans_csv", "stress_dl_loans_parquet"} <= keys
    run = load_run(run_id, store=_store(store))
    expected = {"run_id": run_id, "pool_id": "lendingclub-2018q1", "discounting": "curve",
                "curve_date_used": "2014-06-30", "analysis_date": "2018-06-30",
                "projection_periods": 36, "engine_version": run.result.engine_version}

    metrics = metrics_csv(run_id)
    said = read_provenance(metrics)  # CSV: values as text
    assert {k: said[k] for k in expected} == {k: str(v) for k, v in expected.items()}
    assert said["curve_spread"] == "0.0" and "annual decimals" in said["units"]
    frame = read_csv(metrics)
    assert list(frame["scenario"]) == ["base", "credit_crisis"]
    assert frame["npv"].iloc[0] == pytest.approx(run.result.scenarios["base"].metrics["npv"],
                                                 rel=1e-12)
    assert read_provenance(cashflows_csv(run_id))["run_id"] == run_id
    for parquet in (cashflows_parquet(run_id), loan_level_parquet(run_id)):
        assert {k: read_provenance(parquet)[k] for k in expected} == expected
    loans = pd.read_parquet(io.BytesIO(loan_level_parquet(run_id)))
    assert len(loans) == 2 * run.result.n_assets
    assert read_provenance(loan_level_csv(run_id))["inputs_hash"] == run.result.inputs_hash
    body = json.loads(response_json(run_id))
    assert {k: body["base"]["provenance"][k] for k in expected} == expected
    assert body["base"]["valuation"]["curve_date_used"] == "2014-06-30"


def test_a_path_scenario_shows_its_factor_path(store):
    at = _app()
    run_id = _run(at, scenarios=["fed_2025_severely_adverse_path"], discount=5.0, periods=0)
    assert run_id
    at.session_state["stress_tab"] = "Scenario paths"  # tabs run lazily: open this one
    at.run()
    assert not at.exception
    assert at.selectbox(key="stress_path_scenario").value == "fed_2025_severely_adverse_path"
    assert "stress_path_factors" in [c.key for c in at.get("plotly_chart")]
    assert "The path covers 39 months" in _texts(at.caption)

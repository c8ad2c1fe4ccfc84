"""Tables the credit pages show: hand-checkable inputs and expected values."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from engine.credit import PREDEFINED_SCENARIOS, make_scenario
from engine.credit._views import (
    assumption_changes,
    cashflow_chart_frame,
    histogram_frame,
    loan_level_by,
    loan_path_frame,
    metrics_against_base,
    scenario_factor_table,
    scenarios_from_json,
    scenarios_to_json,
    top_loans,
)
from engine.errors import InputError, NotFoundError, ValidationError
from tests.engine.credit.conftest import make_pool


def test_factor_table_puts_scenarios_side_by_side():
    table = scenario_factor_table({k: PREDEFINED_SCENARIOS[k] for k in ("base", "credit_crisis")})
    assert list(table["key"]) == ["base", "credit_crisis"]
    crisis = table.set_index("key").loc["credit_crisis"]
    assert crisis["default_multiplier"] == 3.0
    assert crisis["recovery_multiplier"] == 0.6
    assert crisis["interest_rate_shock"] == 0.01
    assert crisis["discount_rate_shock"] == 0.0  # neutral, shown explicitly
    assert table.set_index("key").loc["base", "prepayment_multiplier"] == 1.0


def _metrics() -> pd.DataFrame:
    return pd.DataFrame([
        {"scenario": "shock", "name": "Shock", "status": "success", "npv": 90.0,
         "total_loss": 15.0, "weighted_average_life": 2.0, "npv_change_percent": -10.0},
        {"scenario": "base", "name": "Base", "status": "success", "npv": 100.0,
         "total_loss": 10.0, "weighted_average_life": 2.5, "npv_change_percent": 0.0},
        {"scenario": "broken", "name": "Broken", "status": "error", "npv": np.nan,
         "total_loss": np.nan, "weighted_average_life": np.nan, "npv_change_percent": np.nan},
    ])


def test_metrics_against_base_hand_values():
    out = metrics_against_base(_metrics())
    assert list(out["scenario"]) == ["base", "shock", "broken"]  # base first, order kept
    shock = out.set_index("scenario").loc["shock"]
    assert shock["npv_change"] == pytest.approx(-10.0)
    assert shock["total_loss_change"] == pytest.approx(5.0)
    assert shock["weighted_average_life_change"] == pytest.approx(-0.5)
    assert shock["npv_change_percent"] == -10.0
    assert out.set_index("scenario").loc["base", "npv_change"] == 0.0
    assert np.isnan(out.set_index("scenario").loc["broken", "npv_change"])
    assert "duration" not in out.columns  # metrics absent from the input are skipped


def test_metrics_against_failed_base_are_nan():
    m = _metrics()
    m.loc[m["scenario"] == "base", "status"] = "error"
    out = metrics_against_base(m).set_index("scenario")
    assert np.isnan(out.loc["shock", "npv_change"])


def test_cashflow_chart_frame_thins_long_horizons_and_keeps_the_last_month():
    cf = pd.DataFrame({"scenario": ["base"] * 600 + ["x"] * 600,
                       "period": list(range(1, 601)) * 2, "loss": 1.0})
    out = cashflow_chart_frame(cf, names={"base": "Base Case"}, max_points=200)
    per = out.groupby("scenario")["period"]
    assert per.size().tolist() == [200, 200]  # every 3rd month: 3, 6, …, 600
    assert per.max().tolist() == [600, 600]
    last = out[(out["scenario"] == "base") & (out["period"] == 600)].iloc[0]
    assert last["cumulative_loss"] == 600.0  # cumulated before thinning
    assert set(out["scenario_name"]) == {"Base Case", "x"}


def test_cashflow_chart_frame_keeps_short_horizons_whole():
    cf = pd.DataFrame({"scenario": ["base"] * 3, "period": [1, 2, 3], "loss": [1.0, 2.0, 3.0]})
    out = cashflow_chart_frame(cf)
    assert out["cumulative_loss"].tolist() == [1.0, 3.0, 6.0]


def _loans() -> pd.DataFrame:
    return pd.DataFrame({
        "asset_id": ["a", "b", "c", "d"], "asset_class": ["consumer_loan"] * 4,
        "grade": ["A", "A", "B", None], "starting_balance": [100.0, 300.0, 200.0, 0.0],
        "npv": [99.0, 290.0, 180.0, 0.0], "total_default": [2.0, 6.0, 20.0, 0.0],
        "total_loss": [1.0, 3.0, 10.0, 0.0]})


def test_loan_level_by_grade_sums_and_loss_percent():
    out = loan_level_by(_loans(), "grade").set_index("grade")
    assert out.loc["A", "n_assets"] == 2
    assert out.loc["A", "starting_balance"] == 400.0
    assert out.loc["A", "loss_percent"] == pytest.approx(1.0)  # 4 / 400
    assert out.loc["B", "loss_percent"] == pytest.approx(5.0)  # 10 / 200
    assert np.isnan(out.loc["(none)", "loss_percent"])  # no balance, no percentage


def test_top_loans_by_loss():
    assert top_loans(_loans(), by="total_loss", n=2)["asset_id"].tolist() == ["c", "b"]


def test_loan_path_of_a_no_default_no_prepay_loan_amortizes_to_zero():
    pool = make_pool(balance=[1000.0, 500.0], rate=[0.0, 0.06], term=[4, 12])
    path = loan_path_frame(pool, asset_id="L1", scenario=PREDEFINED_SCENARIOS["base"], horizon=5)
    # a zero-coupon 4-month loan repays 250 a month
    assert path["balance"].tolist() == pytest.approx([750.0, 500.0, 250.0, 0.0, 0.0])
    assert path["cumulative_loss"].tolist() == pytest.approx([0.0] * 5)
    with pytest.raises(NotFoundError, match="loan 'missing' is not in pool"):
        loan_path_frame(pool, asset_id="missing", scenario=PREDEFINED_SCENARIOS["base"], horizon=5)


def test_loan_path_applies_the_delinquent_cdr_floor_it_is_given():
    pool = make_pool(balance=[1000.0], rate=[0.0], term=[12], status=["delinquent"],
                     default_probability=[0.0], recovery_rate=[0.0])
    base = PREDEFINED_SCENARIOS["base"]
    free = loan_path_frame(pool, asset_id="L1", scenario=base, horizon=12)
    floored = loan_path_frame(pool, asset_id="L1", scenario=base, horizon=12,
                              delinquent_cdr={"consumer_loan": 1.0})
    assert free["cumulative_default"].iloc[-1] == 0.0
    # an annual CDR of 1 is an MDR of 1: the whole balance defaults in month 1, all of it lost
    assert floored["cumulative_default"].iloc[0] == pytest.approx(1000.0)
    assert floored["cumulative_loss"].iloc[-1] == pytest.approx(1000.0)


def test_assumption_changes_lists_only_edited_cells():
    original = pd.DataFrame({"asset_class": ["auto_loan", "consumer_loan"],
                             "grade": [pd.NA, "A"], "recovery_rate": [0.5, 0.1],
                             "recovery_lag": [6.0, 12.0]})
    edited = original.copy()
    edited.loc[1, "recovery_rate"] = 0.2
    out = assumption_changes(original, edited=edited, fields=("recovery_rate", "recovery_lag"))
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["asset_class"], row["grade"], row["recovery_rate"]) == ("consumer_loan", "A", 0.2)
    assert np.isnan(row["recovery_lag"])
    assert assumption_changes(original, edited=original.copy(), fields=("recovery_rate",)).empty


def test_assumption_changes_match_rows_by_class_and_grade_not_position():
    original = pd.DataFrame({"asset_class": ["auto_loan", "consumer_loan"],
                             "grade": [pd.NA, "A"], "recovery_rate": [0.5, 0.1]})
    edited = original.iloc[::-1].reset_index(drop=True)  # same table, rows reversed
    assert assumption_changes(original, edited=edited, fields=("recovery_rate",)).empty
    added = pd.concat([original, pd.DataFrame({"asset_class": ["consumer_loan"], "grade": ["B"],
                                               "recovery_rate": [0.3]})], ignore_index=True)
    out = assumption_changes(original, edited=added, fields=("recovery_rate",))
    assert out[["asset_class", "grade", "recovery_rate"]].values.tolist() == [
        ["consumer_loan", "B", 0.3]]


def test_scenarios_json_round_trip():
    sc = {"mine": make_scenario("Mine", description="d", market_factors={"spread_widening": 0.02})}
    back = scenarios_from_json(scenarios_to_json(sc))
    assert back["mine"].market_factors == sc["mine"].market_factors
    assert back["mine"].name == "Mine" and back["mine"].source == "custom"


@pytest.mark.parametrize("text,error,match", [
    ("not json", InputError, "not valid JSON"),
    ("[1, 2]", InputError, "JSON object"),
    ("{}", InputError, "no scenario"),
    (json.dumps({"x": {"market_factors": {"default_multiplier": 9}}}), ValidationError,
     "outside its valid range 0.5 … 5"),
    (json.dumps({"x": {"market_factors": {"volatility": 1}}}), ValidationError,
     "unknown market factor"),
])
def test_scenarios_from_bad_json(text, error, match):
    with pytest.raises(error, match=match):
        scenarios_from_json(text)


def test_histogram_frame_counts():
    out = histogram_frame(pd.Series([0.0, 1.0, 1.0, 2.0, np.nan]), bins=2)
    assert out["count"].tolist() == [1, 3]
    assert out["left"].tolist() == [0.0, 1.0]
    assert histogram_frame(pd.Series([np.nan])).empty

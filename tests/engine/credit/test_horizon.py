"""A horizon shorter than the run-off: residual share, run-off valuation of the residual; and
the roll-forward of a pool to a later analysis date."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import pytest

from engine.credit import AnalysisRequest, StressTestRequest, run_stress_test
from engine.credit._runner import roll_forward, whole_months
from engine.errors import InputError

from .conftest import make_pool

DAY = date(2014, 6, 30)


def run(pool, *, periods=None, residual="par", names=("base",), rate=0.06, **kw):
    req = StressTestRequest(request=AnalysisRequest(
        analysis_date=kw.pop("analysis_date", DAY), discount_rate=rate,
        projection_periods=periods, residual_valuation=residual, **kw),
        scenario_names=list(names))
    return run_stress_test(req, pool=pool, cache=None)


def scheduled_fraction(c, n, k):
    return ((1 + c) ** n - (1 + c) ** k) / ((1 + c) ** n - 1)


def test_the_residual_share_of_a_cut_run_off_by_hand():
    # 1,000 at 6 %, 24 months, no default or prepayment, cut at 12 months: the balance left is
    # the scheduled balance 1000 (1.005^24 - 1.005^12) / (1.005^24 - 1) = 514.9582…
    pool = make_pool(balance=[1000.0], rate=[0.06], term=[24])
    m = run(pool, periods=12).scenarios["base"].metrics
    left = 1000.0 * scheduled_fraction(0.005, 24, 12)
    assert left == pytest.approx(514.9582, abs=1e-4)
    assert m["residual_balance"] == pytest.approx(left, rel=1e-12)
    assert m["residual_share"] == pytest.approx(left / 1000.0, rel=1e-12)
    assert m["npv"] == pytest.approx(1000.0, rel=1e-12)  # at its coupon, par is par
    assert m["residual_value"] == pytest.approx(left / 1.005 ** 12, rel=1e-12)
    assert m["loss_beyond_horizon"] is None  # not projected at par
    full = run(pool).scenarios["base"].metrics
    assert full["residual_share"] == 0.0 and full["loss_beyond_horizon"] == 0.0


@pytest.mark.parametrize("names", [("base",), ("base", "credit_crisis", "rate_shock_up")])
def test_run_off_valuation_of_the_residual_gives_the_full_run_off_npv(names):
    pool = make_pool(balance=[100_000.0, 40_000.0, 7_000.0], rate=[0.07, 0.05, 0.12],
                     term=[120, 60, 36], age=[10, 0, 6], prepayment_speed=[0.1, 0.05, 0.2],
                     default_probability=[0.03, 0.02, 0.08], rate_type=["fixed", "floating",
                                                                         "fixed"])
    full = run(pool, names=names)
    par = run(pool, periods=24, names=names)
    off = run(pool, periods=24, residual="run_off", names=names)
    assert off.valuation["residual_valuation"] == "run_off"
    assert off.valuation["full_run_off_months"] == 110
    for k in names:
        f, p, o = (r.scenarios[k].metrics for r in (full, par, off))
        assert o["npv"] == pytest.approx(f["npv"], rel=1e-12)
        assert o["residual_balance"] == p["residual_balance"] > 0
        assert o["residual_share"] == pytest.approx(p["residual_balance"] / 147_000.0,
                                                    rel=1e-12)
        # losses inside the horizon as at par; the rest reported beside them
        assert o["total_loss"] == p["total_loss"]
        assert o["total_loss"] + o["loss_beyond_horizon"] == pytest.approx(f["total_loss"],
                                                                           rel=1e-12)
        table = off.scenarios[k].cashflows  # residual column: its value at the horizon
        assert table["present_value"].sum() == pytest.approx(f["npv"], rel=1e-12)
        assert table.loc[23, "residual"] * table.loc[23, "discount_factor"] == pytest.approx(
            o["residual_value"], rel=1e-12)
    # stressed: the par residual hides the losses beyond the horizon
    assert off.scenarios["base"].metrics["npv"] < par.scenarios["base"].metrics["npv"]


THREE = dict(balance=[100_000.0, 40_000.0, 7_000.0], rate=[0.07, 0.05, 0.12],
             term=[120, 60, 36], age=[10, 0, 6], prepayment_speed=[0.1, 0.05, 0.2],
             default_probability=[0.03, 0.02, 0.08], rate_type=["fixed", "floating", "fixed"])


@pytest.mark.parametrize("discounting", ["flat", "curve"])
def test_run_off_rate_metrics_are_those_of_the_full_run_off(discounting):
    # The residual valued by its run-off is a stream of cash beyond the horizon, so the rate
    # metrics must be those of the whole run-off: the modified duration is -(dNPV/dy)/NPV and
    # the convexity (d2NPV/dy2)/NPV for a bump of the flat yield (flat) or of the spread over
    # the zero curve (curve: Fisher-Weil), and IRR and WAL are the full run-off's.
    pool = make_pool(**THREE)
    names = ("base", "credit_crisis")

    def at(bump, periods=24):
        if discounting == "flat":
            return run(pool, periods=periods, residual="run_off", names=names, rate=0.05 + bump)
        return run(pool, periods=periods, residual="run_off", names=names, discounting="curve",
                   curve_date=DAY, curve_spread=0.01 + bump)

    h = 1e-4
    off, up, down, full = at(0.0), at(h), at(-h), at(0.0, periods=None)
    for k in names:
        m = off.scenarios[k].metrics
        npv, hi, lo = m["npv"], up.scenarios[k].metrics["npv"], down.scenarios[k].metrics["npv"]
        assert m["residual_share"] > 0.5  # the horizon cuts most of the pool
        assert m["modified_duration"] == pytest.approx(-(hi - lo) / (2 * h) / npv, rel=1e-6)
        assert m["convexity"] == pytest.approx((hi - 2 * npv + lo) / h**2 / npv, rel=1e-5)
        f = full.scenarios[k].metrics
        for name in ("duration", "modified_duration", "convexity", "irr", "discount_yield",
                     "weighted_average_life"):
            assert m[name] == pytest.approx(f[name], rel=1e-12), name
    # modified duration 2.7 to 2.8 years, not the 1.5 of the residual paid at month 24
    assert 2.7 < off.scenarios["base"].metrics["modified_duration"] < 2.85


def test_run_off_without_a_cut_changes_nothing():
    pool = make_pool(balance=[1000.0, 500.0], rate=[0.06, 0.08], term=[12, 24],
                     default_probability=[0.05, 0.05])
    a = run(pool).scenarios["base"].metrics
    b = run(pool, residual="run_off").scenarios["base"].metrics
    assert a == b


def test_loan_level_npv_under_run_off_is_the_full_run_off_npv():
    pool = make_pool(balance=[1000.0, 500.0], rate=[0.06, 0.08], term=[48, 24],
                     default_probability=[0.05, 0.1])
    req = StressTestRequest(request=AnalysisRequest(analysis_date=DAY, discount_rate=0.05,
                                                    projection_periods=12,
                                                    residual_valuation="run_off"),
                            include_loan_level=True)
    off = run_stress_test(req, pool=pool, cache=None).scenarios["base"]
    full = run_stress_test(req.model_copy(update={"request": req.request.model_copy(
        update={"projection_periods": None})}), pool=pool, cache=None).scenarios["base"]
    np.testing.assert_allclose(off.loan_level["npv"], full.loan_level["npv"], rtol=1e-12)
    assert off.loan_level["npv"].sum() == pytest.approx(off.metrics["npv"], rel=1e-12)


# --------------------------------------------------------------------------- analysis date

def test_whole_months_counts_month_ends():
    assert whole_months(date(2009, 6, 30), date(2014, 6, 30)) == 60
    assert whole_months(date(2014, 1, 31), date(2014, 2, 28)) == 1
    assert whole_months(date(2014, 1, 15), date(2014, 3, 14)) == 1
    assert whole_months(date(2014, 6, 30), date(2014, 7, 15)) == 0


def test_rolling_forward_by_hand():
    # 1,000 at 6 %, 24 months, CPR 10 %, CDR 0: after 12 months the expected balance is
    # 1000 * (1 - SMM)^12 * S_12 = 0.9 * 514.9582… (SMM = 1 - 0.9^(1/12))
    pool = dataclasses.replace(
        make_pool(asset_id=["A", "B", "C"], balance=[1000.0, 300.0, 50.0], rate=[0.06] * 3,
                  term=[24, 12, 6], age=[0, 2, 0], prepayment_speed=[0.1, 0.0, 0.0],
                  status=["performing", "performing", "default"], recovery_lag=[3, 3, 18]),
        cutoff_date=date(2013, 6, 30))
    rolled, m = roll_forward(pool, analysis_date=date(2014, 6, 30))
    assert m == 12 and rolled.cutoff_date == date(2014, 6, 30)
    assert list(rolled.frame["asset_id"]) == ["A", "C"]  # B (10 months left) has matured
    a = rolled.frame.iloc[0]
    assert a["age"] == 12
    assert a["balance"] == pytest.approx(0.9 * 1000.0 * scheduled_fraction(0.005, 24, 12),
                                         rel=1e-12)
    assert rolled.frame.iloc[1]["balance"] == 50.0  # in default: kept, 6 months to recovery
    assert rolled.frame.iloc[1]["recovery_lag"] == 6
    assert roll_forward(pool, analysis_date=date(2013, 6, 30)) == (pool, 0)
    with pytest.raises(InputError, match="before pool 'test pool''s cutoff date 2013-06-30"):
        roll_forward(pool, analysis_date=date(2013, 6, 29))
    short = dataclasses.replace(pool, frame=pool.frame.iloc[:2].reset_index(drop=True))
    with pytest.raises(InputError, match="every loan of pool 'test pool' matures"):
        roll_forward(short, analysis_date=date(2016, 1, 31))


def test_a_later_analysis_date_changes_the_npv():
    pool = dataclasses.replace(make_pool(balance=[1000.0], rate=[0.06], term=[360],
                                         default_probability=[0.02]),
                               cutoff_date=date(2009, 6, 30))
    early = run(pool, analysis_date=date(2009, 6, 30), rate=0.05)
    late = run(pool, analysis_date=date(2014, 6, 30), rate=0.05)
    assert late.valuation["rolled_forward_months"] == 60
    assert late.valuation["cutoff_date"] == "2009-06-30"
    assert late.scenarios["base"].metrics["starting_balance"] < 1000.0
    assert late.scenarios["base"].metrics["npv"] < early.scenarios["base"].metrics["npv"]
    assert late.inputs_hash != early.inputs_hash


def test_rolling_forward_with_a_cdr_by_hand():
    # rate 0 (straight-line schedule, S_12 = 108/120), 12 months rolled:
    # A: CDR 12 %, CPR 0: 10,000 * (1 - MDR)^12 * S_12 = 10,000 * 0.88 * 0.9 = 7,920
    # B: CDR 12 %, CPR 10 %: 10,000 * 0.88 * 0.9 * 0.9 = 7,128
    # C: delinquent, CDR 0 in the tape, floor 19 %: 10,000 * 0.81 * 0.9 = 7,290
    pool = dataclasses.replace(
        make_pool(asset_id=["A", "B", "C"], balance=[10_000.0] * 3, rate=[0.0] * 3,
                  term=[120] * 3, prepayment_speed=[0.0, 0.1, 0.0],
                  default_probability=[0.12, 0.12, 0.0],
                  status=["performing", "performing", "delinquent"]),
        cutoff_date=date(2013, 6, 30))
    rolled, m = roll_forward(pool, analysis_date=date(2014, 6, 30),
                             delinquent_cdr={"consumer_loan": 0.19})
    assert m == 12
    np.testing.assert_allclose(rolled.frame["balance"], [7_920.0, 7_128.0, 7_290.0],
                               rtol=1e-12)
    # the same as the cutoff run's beginning balance of month 13 (its projection, month by month)
    req = StressTestRequest(request=AnalysisRequest(analysis_date=date(2013, 6, 30),
                                                    discount_rate=0.05))
    table = run_stress_test(req, pool=pool, cache=None,
                            delinquent_cdr={"consumer_loan": 0.19}).scenarios["base"].cashflows
    assert table.loc[12, "beginning_balance"] == pytest.approx(7_920.0 + 7_128.0 + 7_290.0,
                                                               rel=1e-12)


def test_rolled_defaults_recover_in_the_same_calendar_month():
    # In default at the cutoff 2013-06-30 (written off in month 1, recovering in month
    # 1 + lag): rolled 12 months, lag 3 has recovered (month 4 <= 12): removed; lag 12
    # recovers in month 13 = month 1 after the analysis date: kept with lag 0; lag 20 recovers
    # in month 21 = month 9 after it: kept with lag 8.
    pool = dataclasses.replace(
        make_pool(asset_id=["D3", "D12", "D20"], balance=[1000.0, 2000.0, 4000.0],
                  term=[60] * 3, age=[10] * 3, recovery_rate=[0.4] * 3,
                  recovery_lag=[3, 12, 20], status=["default"] * 3),
        cutoff_date=date(2013, 6, 30))
    rolled, m = roll_forward(pool, analysis_date=date(2014, 6, 30))
    assert m == 12
    assert list(rolled.frame["asset_id"]) == ["D12", "D20"]
    assert list(rolled.frame["recovery_lag"]) == [0, 8]
    assert list(rolled.frame["balance"]) == [2000.0, 4000.0]
    early = run(pool, analysis_date=date(2013, 6, 30)).scenarios["base"]
    late = run(pool, analysis_date=date(2014, 6, 30)).scenarios["base"]
    assert late.metrics["total_recovery"] == pytest.approx(0.4 * 6000.0, rel=1e-12)
    assert early.metrics["total_recovery"] == pytest.approx(0.4 * 7000.0, rel=1e-12)
    r_early = early.cashflows["recovery"].to_numpy()
    r_late = late.cashflows["recovery"].to_numpy()
    assert r_late[0] == pytest.approx(800.0) and r_late[8] == pytest.approx(1600.0)
    np.testing.assert_array_equal(r_late, r_early[12:12 + len(r_late)])
    # every default recovered before the analysis date: nothing is left to value
    with pytest.raises(InputError, match="matures or has recovered before the analysis date"):
        roll_forward(pool, analysis_date=date(2015, 6, 30))

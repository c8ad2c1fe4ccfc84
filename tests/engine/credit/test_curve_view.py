"""The Treasury curve as the Stress test page draws it
(:func:`engine.credit.workflow.treasury_curve`): zero rates a reader can recompute from the file's par yields, the date used when the asked one
is not in the file, and the very discount factors a curve run uses."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from engine.credit import AnalysisRequest, StressTestRequest, run_stress_test
from engine.credit.workflow import curve_dates, treasury_curve
from engine.errors import InputError

from .conftest import make_pool


def test_the_file_spans_1990_to_2022():
    assert curve_dates() == (date(1990, 1, 2), date(2022, 3, 11))


def test_a_saturday_uses_the_friday_before_and_its_par_yields():
    # 2018-06-30 is a Saturday; Treasury's par yields of Friday 2018-06-29 (percent): 1M 1.77,
    # 3M 1.93, 6M 2.11, 1Y 2.33, 2Y 2.52, 3Y 2.63, 5Y 2.73, 7Y 2.81, 10Y 2.85, 20Y 2.91, 30Y 2.98.
    view = treasury_curve(date(2018, 6, 30))
    assert (view.curve_date, view.date_used) == (date(2018, 6, 30), date(2018, 6, 29))
    frame = view.frame
    assert len(frame) == 360 and frame["maturity_years"].iloc[-1] == 30.0
    par = frame.dropna(subset=["par_yield"]).set_index("maturity_years")["par_yield"]
    assert list(par.index) == pytest.approx([1 / 12, 0.25, 0.5, 1, 2, 3, 5, 7, 10, 20, 30])
    assert list(par) == pytest.approx([0.0177, 0.0193, 0.0211, 0.0233, 0.0252, 0.0263, 0.0273,
                                       0.0281, 0.0285, 0.0291, 0.0298], abs=1e-12)


def test_zero_rates_by_hand_from_the_bills_and_the_six_month_par_yield():
    frame = treasury_curve(date(2018, 6, 29)).frame.set_index("maturity_years")
    # a bill is a simple yield: P = 1 / (1 + y t), zero = -ln P / t
    assert frame["zero_rate"].iloc[0] == pytest.approx(12 * math.log1p(0.0177 / 12), abs=1e-14)
    assert frame.loc[0.25, "zero_rate"] == pytest.approx(4 * math.log1p(0.0193 / 4), abs=1e-14)
    # the 6-month par bond pays 1 + y/2 once: P = 1 / (1 + y/2), zero = 2 ln(1 + y/2)
    assert frame.loc[0.5, "zero_rate"] == pytest.approx(2 * math.log1p(0.0211 / 2), abs=1e-14)
    assert frame.loc[0.5, "zero_rate"] == pytest.approx(0.020989, abs=1e-6)


def test_the_spread_moves_the_discount_rate_and_not_the_zero_rate():
    plain = treasury_curve(date(2009, 3, 31)).frame
    spread = treasury_curve(date(2009, 3, 31), spread=0.0125).frame
    np.testing.assert_array_equal(spread["zero_rate"], plain["zero_rate"])
    np.testing.assert_allclose(spread["discount_rate"] - spread["zero_rate"], 0.0125,
                               rtol=0, atol=1e-15)
    np.testing.assert_array_equal(plain["discount_rate"], plain["zero_rate"])


@pytest.mark.parametrize("day", [date(1989, 12, 29), date(2022, 3, 14)])
def test_a_date_outside_the_file_is_refused_with_its_range(day):
    with pytest.raises(InputError, match="1990-01-02 … 2022-03-11"):
        treasury_curve(day)


def test_the_curve_drawn_is_the_curve_a_run_discounts_on():
    # a base-case run on the curve of 2014-06-30 plus 150 bp discounts month k by
    # exp(-(zero(k/12) + 0.015) k/12): the drawn discount rate, read back from the run
    pool = make_pool(balance=[1000.0, 2500.0], rate=[0.05, 0.08], term=[36, 60])
    request = StressTestRequest(
        request=AnalysisRequest(analysis_date=date(2014, 6, 30), discount_rate=0.05,
                                discounting="curve", curve_date=date(2014, 6, 30),
                                curve_spread=0.015, include_cashflows=True),
        scenario_names=["base"])
    result = run_stress_test(request, pool=pool, cache=None)
    flows = result.scenarios["base"].cashflows
    view = treasury_curve(date(2014, 6, 30), spread=0.015).frame.iloc[:len(flows)]
    expected = np.exp(-view["discount_rate"].to_numpy() * view["maturity_years"].to_numpy())
    np.testing.assert_allclose(flows["discount_factor"].to_numpy(), expected, rtol=1e-12,
                               atol=0)
    assert result.valuation["curve_date_used"] == treasury_curve(date(2014, 6, 30)).date_used \
        .isoformat()

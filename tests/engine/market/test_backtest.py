"""Kupiec, Christoffersen and the traffic light against hand computations; rolling VaR."""

from __future__ import annotations

from math import log

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, chi2

from engine.errors import InputError
from engine.market.backtest import (
    backtest,
    christoffersen,
    kupiec_pof,
    rolling_var,
    traffic_light,
)
from engine.market.var import cornish_fisher_var, historical_var, parametric_var


def test_kupiec_five_exceptions_in_250_days_at_99():
    lr, p = kupiec_pof(5, observations=250, confidence=0.99)
    hand = -2 * (245 * log(0.99) + 5 * log(0.01)) + 2 * (245 * log(0.98) + 5 * log(0.02))
    assert lr == pytest.approx(hand)
    assert lr == pytest.approx(1.95681, abs=1e-5)
    assert p == pytest.approx(chi2.sf(hand, 1))
    assert p == pytest.approx(0.16185, abs=1e-4)


def test_kupiec_zero_exceptions_uses_zero_log_zero():
    lr, _ = kupiec_pof(0, observations=250, confidence=0.99)
    assert lr == pytest.approx(-2 * 250 * log(0.99))  # 5.0252
    assert lr == pytest.approx(5.02517, abs=1e-5)


def test_kupiec_at_expected_rate_is_zero():
    lr, p = kupiec_pof(10, observations=1000, confidence=0.99)
    assert lr == pytest.approx(0.0, abs=1e-12) and p == pytest.approx(1.0)


def test_christoffersen_clustered_hits():
    hits = np.array([1, 1, 0, 0, 0, 0, 0, 0, 1, 1])
    res = christoffersen(hits, 0.9)
    assert (res.n00, res.n01, res.n10, res.n11) == (5, 1, 1, 2)
    # pi0 = 1/6, pi1 = 2/3, pi = 3/9
    ll0 = 6 * log(2 / 3) + 3 * log(1 / 3)
    ll1 = 5 * log(5 / 6) + log(1 / 6) + log(1 / 3) + 2 * log(2 / 3)
    assert res.lr_ind == pytest.approx(-2 * (ll0 - ll1))
    assert res.lr_ind == pytest.approx(2.23144, abs=1e-5)
    assert res.p_value_ind == pytest.approx(chi2.sf(2.231436, 1), abs=1e-6)
    pof = -2 * (6 * log(0.9) + 4 * log(0.1)) + 2 * (6 * log(0.6) + 4 * log(0.4))  # 6.22477
    assert res.lr_cc == pytest.approx(pof + res.lr_ind)
    assert res.lr_cc == pytest.approx(8.45621, abs=1e-5)
    assert res.p_value_cc == pytest.approx(chi2.sf(res.lr_cc, 2))


def test_christoffersen_unclustered_hits_give_zero():
    hits = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0])  # n00=4, n01=2, n10=2, n11=1: pi0 = pi1 = pi
    res = christoffersen(hits, 0.9)
    assert (res.n00, res.n01, res.n10, res.n11) == (4, 2, 2, 1)
    assert res.lr_ind == pytest.approx(0.0, abs=1e-12)


#: Basel Committee (1996), Table 2: 99 %, 250 days.
BASEL_TABLE = [(x, "green", 0.0) for x in range(5)] + [
    (5, "yellow", 0.40), (6, "yellow", 0.50), (7, "yellow", 0.65), (8, "yellow", 0.75),
    (9, "yellow", 0.85), (10, "red", 1.00), (15, "red", 1.00),
]


@pytest.mark.parametrize(("x", "zone", "plus"), BASEL_TABLE)
def test_traffic_light_basel_table_at_99_and_250_days(x, zone, plus):
    tl = traffic_light(x, observations=250, confidence=0.99)
    assert (tl.zone, tl.plus_factor, tl.multiplier) == (zone, plus, 3.0 + plus)
    assert (tl.green_max, tl.yellow_max) == (4, 9)


def test_traffic_light_cumulative_probabilities_match_basel():
    # Basel 1996 Table 1/2 cumulative probabilities: 4 -> 89.22 %, 5 -> 95.88 %, 9 -> 99.97 %
    for x, cp in ((4, 0.8922), (5, 0.9588), (9, 0.9997)):
        tl = traffic_light(x, observations=250, confidence=0.99)
        assert tl.cumulative_probability == pytest.approx(cp, abs=1e-4)


def test_traffic_light_other_confidence_and_days_by_the_binomial_rule():
    tl = traffic_light(0, observations=500, confidence=0.95)
    xs = np.arange(501)
    cdf = binom.cdf(xs, 500, 0.05)
    assert tl.green_max == xs[cdf <= 0.95].max()
    assert tl.yellow_max == xs[cdf <= 0.9999].max()
    assert traffic_light(tl.green_max, observations=500, confidence=0.95).zone == "green"
    assert traffic_light(tl.green_max + 1, observations=500, confidence=0.95).zone == "yellow"
    assert traffic_light(tl.yellow_max + 1, observations=500, confidence=0.95).zone == "red"
    # A yellow count maps onto the Basel plus-factors by equal cumulative probability.
    yellow = traffic_light(tl.green_max + 1, observations=500, confidence=0.95)
    assert 0.40 <= yellow.plus_factor <= 0.85


@pytest.mark.parametrize(("x", "n"), [(-1, 250), (251, 250), (0, 0)])
def test_traffic_light_refuses_impossible_counts(x, n):
    with pytest.raises(InputError):
        traffic_light(x, observations=n, confidence=0.99)


def test_rolling_historical_var_hand_example():
    losses = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 10.0, 1.0])
    # window 4, c = 0.75: the ceil(3) = 3rd smallest of the four losses before each day
    np.testing.assert_array_equal(rolling_var(losses, window=4, confidence=0.75), [3, 4, 4, 5])
    s = pd.Series(losses, index=pd.bdate_range("2024-01-01", periods=8))
    run = backtest(s, confidence=0.75, window=4)
    assert run.result.observations == 4 and run.result.exceptions == 2  # days with 5 and 10
    assert run.series["exception"].tolist() == [True, False, True, False]


@pytest.mark.parametrize(("method", "single"), [("historical", historical_var),
                                                ("parametric", parametric_var),
                                                ("cornish_fisher", cornish_fisher_var)])
def test_rolling_var_matches_one_window_at_a_time(method, single):
    x = np.random.default_rng(11).standard_t(5, size=400) * 0.01
    rolled = rolling_var(x, window=100, confidence=0.99, method=method)
    looped = [single(x[t - 100:t], 0.99) for t in range(100, 400)]
    np.testing.assert_allclose(rolled, looped, rtol=1e-9, atol=1e-12)


def test_rolling_monte_carlo_is_seeded_and_near_parametric():
    x = np.random.default_rng(4).normal(0, 0.01, 600)
    a = rolling_var(x, window=250, confidence=0.99, method="monte_carlo", seed=3)
    b = rolling_var(x, window=250, confidence=0.99, method="monte_carlo", seed=3)
    np.testing.assert_array_equal(a, b)
    p = rolling_var(x, window=250, confidence=0.99, method="parametric")
    np.testing.assert_allclose(a, p, rtol=0.05)


def test_window_longer_than_history_is_refused():
    with pytest.raises(InputError, match="longer than the history"):
        rolling_var(np.ones(10), window=10, confidence=0.99)


def test_backtest_start_end_and_keys():
    rng = np.random.default_rng(0)
    s = pd.Series(rng.normal(0, 0.01, 1200), index=pd.bdate_range("2018-01-01", periods=1200))
    run = backtest(s, confidence=0.99, window=250, start="2020-01-01", end="2021-06-30")
    r = run.result
    assert r.start >= "2020-01-01" and r.end <= "2021-06-30"
    assert r.observations == len(run.series) == int(((s.index >= "2020-01-01")
                                                     & (s.index <= "2021-06-30")).sum())
    assert r.exceptions == int((run.series["loss"] > run.series["VaR"]).sum())
    for key in ("observations", "exceptions", "kupiec_lr", "kupiec_p_value",
                "christoffersen_lr_ind", "christoffersen_p_value", "traffic_light"):
        assert key in r.model_dump()


def test_backtest_with_no_days_in_range_is_refused():
    s = pd.Series(np.zeros(300) + 0.001, index=pd.bdate_range("2018-01-01", periods=300))
    with pytest.raises(InputError):
        backtest(s, confidence=0.99, window=250, start="2030-01-01")

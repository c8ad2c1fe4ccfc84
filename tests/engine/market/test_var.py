"""VaR and ES conventions on samples a reader can check by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from engine.errors import InputError
from engine.market.var import (
    compare_methods,
    cornish_fisher_es,
    cornish_fisher_var,
    historical_es,
    historical_var,
    monte_carlo_losses,
    parametric_es,
    parametric_var,
    portfolio_losses,
    quantile_rank,
)

ONE_TO_TEN = np.array([7.0, 3.0, 10.0, 1.0, 5.0, 9.0, 2.0, 8.0, 4.0, 6.0])


@pytest.mark.parametrize(
    ("confidence", "var", "es"),
    [
        (0.95, 10.0, 10.0),  # ceil(9.5) = 10th smallest; tail {10}
        (0.90, 9.0, 9.5),  # 9th smallest; tail {9, 10}
        (0.50, 5.0, 7.5),  # 5th smallest; tail {5..10}, mean 7.5
        (0.01, 1.0, 5.5),  # ceil(0.1) = 1st smallest; tail is everything
    ],
)
def test_historical_var_and_es_on_one_to_ten(confidence, var, es):
    assert historical_var(ONE_TO_TEN, confidence) == var
    assert historical_es(ONE_TO_TEN, confidence) == es


def test_quantile_rank_counts_as_a_reader_does():
    assert quantile_rank(0.95, 20) == 19  # 0.95 * 20 is 19.000000000000004 in binary
    assert quantile_rank(0.99, 250) == 248  # ceil(247.5)
    assert quantile_rank(0.999, 8000) == 7992


def test_historical_es_includes_ties_at_the_var():
    losses = np.array([1.0, 2.0, 3.0, 3.0, 3.0])
    assert historical_var(losses, 0.6) == 3.0  # 3rd smallest
    assert historical_es(losses, 0.6) == 3.0  # mean of the three 3s


def test_historical_var_by_column():
    losses = np.column_stack([ONE_TO_TEN, 2 * ONE_TO_TEN])
    np.testing.assert_array_equal(historical_var(losses, 0.9), [9.0, 18.0])
    np.testing.assert_array_equal(historical_es(losses, 0.9), [9.5, 19.0])


def test_parametric_var_and_es_on_two_points():
    losses = np.array([-1.0, 1.0])  # mean 0, sample std sqrt(2)
    z = norm.ppf(0.95)  # 1.6449
    assert parametric_var(losses, 0.95) == pytest.approx(math.sqrt(2) * 1.6448536, rel=1e-6)
    assert parametric_es(losses, 0.95) == pytest.approx(math.sqrt(2) * norm.pdf(z) / 0.05)
    assert parametric_es(losses, 0.95) == pytest.approx(math.sqrt(2) * 2.0627128, rel=1e-6)


def test_cornish_fisher_on_a_symmetric_platykurtic_sample():
    losses = np.array([-1.0, 0.0, 1.0])  # skew 0, biased excess kurtosis 1.5 - 3 = -1.5, std 1
    z = 1.6448536
    z_cf = z + (z**3 - 3 * z) * (-1.5) / 24  # 1.675120
    assert cornish_fisher_var(losses, 0.95) == pytest.approx(z_cf, rel=1e-6)
    assert cornish_fisher_var(losses, 0.95) == pytest.approx(1.675120, abs=1e-5)


def test_cornish_fisher_equals_normal_without_skew_or_excess_kurtosis(monkeypatch):
    import engine.market.var as var_mod

    losses = np.random.default_rng(1).normal(0, 1, 500)
    monkeypatch.setattr(var_mod, "_cf_shape",
                        lambda x: (float(np.mean(x)), float(np.std(x, ddof=1)), 0.0, 0.0))
    assert cornish_fisher_var(losses, 0.99) == pytest.approx(parametric_var(losses, 0.99))
    assert cornish_fisher_es(losses, 0.975) == pytest.approx(parametric_es(losses, 0.975))


def test_cornish_fisher_es_is_the_tail_mean_of_the_cornish_fisher_quantile():
    from scipy.stats import kurtosis, skew

    from engine.market.var import cornish_fisher_z

    losses = np.random.default_rng(3).standard_t(4, size=2000) * 0.01
    mu, sd = losses.mean(), losses.std(ddof=1)
    s, k = skew(losses), kurtosis(losses)
    c = 0.975
    u = c + (1 - c) * (np.arange(200_000) + 0.5) / 200_000  # midpoint rule over (c, 1)
    numeric = mu + sd * np.mean(cornish_fisher_z(norm.ppf(u), skewness=s, excess_kurtosis=k))
    assert cornish_fisher_es(losses, c) == pytest.approx(numeric, rel=1e-3)


def test_portfolio_losses_are_minus_value_weighted_returns():
    r = np.array([[0.01, -0.02], [-0.05, 0.0]])
    np.testing.assert_allclose(portfolio_losses(r, np.array([100.0, 50.0])), [0.0, 5.0], atol=1e-12)


def test_monte_carlo_is_seeded_and_bootstrap_draws_history():
    r = np.random.default_rng(0).normal(0, 0.01, (300, 2))
    v = np.array([1.0, 1.0])
    a = monte_carlo_losses(r, values=v, n_sims=1000, seed=5)
    b = monte_carlo_losses(r, values=v, n_sims=1000, seed=5)
    np.testing.assert_array_equal(a, b)
    boot = monte_carlo_losses(r, values=v, n_sims=500, seed=1, kind="bootstrap")
    assert set(np.round(boot, 12)) <= set(np.round(portfolio_losses(r, v), 12))


def test_monte_carlo_normal_close_to_parametric_for_normal_data():
    r = np.random.default_rng(2).normal(0, 0.01, (5000, 1))
    v = np.array([1.0])
    sims = monte_carlo_losses(r, values=v, n_sims=200_000, seed=0)
    assert historical_var(sims, 0.99) == pytest.approx(parametric_var(-r[:, 0], 0.99), rel=0.02)


def test_compare_methods_scales_by_square_root_of_time(small_prices):
    from engine.market.data_io import simple_returns

    rets = simple_returns(small_prices)
    values = pd.Series([1000.0, 2000.0], index=["A", "B"])
    one = compare_methods(rets, values=values, horizon_days=1)
    ten = compare_methods(rets, values=values, horizon_days=10)
    for m in ("historical", "parametric", "cornish_fisher", "monte_carlo"):
        assert ten.value(m, measure="VaR", confidence=0.99) == pytest.approx(
            one.value(m, measure="VaR", confidence=0.99) * math.sqrt(10))
    frame = one.to_frame()
    assert list(frame.columns) == ["VaR 95%", "VaR 99%", "VaR 99.9%", "ES 97.5%"]
    assert list(frame.index) == ["historical", "parametric", "cornish_fisher", "monte_carlo"]
    losses = -(rets[["A", "B"]].to_numpy() @ values.to_numpy())
    assert one.value("historical", measure="VaR", confidence=0.99) == historical_var(losses, 0.99)


@pytest.mark.parametrize("c", [0.0, 1.0, -0.5, 1.2, float("nan")])
def test_confidence_outside_zero_one_is_refused(c):
    with pytest.raises(InputError, match="strictly between 0 and 1"):
        historical_var(ONE_TO_TEN, c)
    with pytest.raises(InputError):
        parametric_var(ONE_TO_TEN, c)


def test_nan_losses_are_refused():
    with pytest.raises(InputError, match="NaN"):
        historical_var(np.array([1.0, np.nan]), 0.9)

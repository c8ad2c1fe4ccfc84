"""Scenario library: the predefined table, ranges, and the Federal Reserve translation."""

from __future__ import annotations

import pytest

from engine.credit import (
    FACTOR_RANGES,
    PREDEFINED_SCENARIOS,
    builtin_scenarios,
    fed_translations,
    make_scenario,
)
from engine.errors import ScenarioError

# ARCHITECTURE.md, "Predefined scenarios"
EXPECTED = {
    "base": ("Base Case", {}),
    "rate_shock_up": ("Rate Shock Up (+300bp)", {"interest_rate_shock": 0.03,
                      "prepayment_multiplier": 0.7, "default_multiplier": 1.2}),
    "rate_shock_down": ("Rate Shock Down (−200bp)", {"interest_rate_shock": -0.02,
                        "prepayment_multiplier": 1.5, "default_multiplier": 0.9}),
    "credit_crisis": ("Credit Crisis", {"default_multiplier": 3.0, "recovery_multiplier": 0.6,
                      "prepayment_multiplier": 0.5, "interest_rate_shock": 0.01}),
    "liquidity_crisis": ("Liquidity Crisis", {"spread_widening": 0.05,
                         "prepayment_multiplier": 0.4, "default_multiplier": 1.8}),
    "housing_boom": ("Housing Boom", {"prepayment_multiplier": 2.0, "recovery_multiplier": 1.3,
                     "default_multiplier": 0.7}),
    "housing_bust": ("Housing Bust", {"recovery_multiplier": 0.5, "default_multiplier": 2.5,
                     "prepayment_multiplier": 0.6}),
}


def test_the_seven_predefined_scenarios_are_exactly_the_architecture_table():
    assert list(PREDEFINED_SCENARIOS) == list(EXPECTED)
    for key, (name, factors) in EXPECTED.items():
        s = PREDEFINED_SCENARIOS[key]
        assert s.name == name
        assert s.market_factors.named() == factors


def test_builtin_library_has_the_fed_pair_by_peak_then_as_paths_last():
    lib = builtin_scenarios()
    assert len(lib) == 11
    assert list(lib)[-4:] == ["fed_2025_baseline", "fed_2025_severely_adverse",
                              "fed_2025_baseline_path", "fed_2025_severely_adverse_path"]
    assert [k for k, s in lib.items() if s.market_factors.is_path] == list(lib)[-2:]
    # the path's headline values are the peak reading, exactly
    assert (lib["fed_2025_severely_adverse_path"].market_factors.constant()
            == lib["fed_2025_severely_adverse"].market_factors.constant())


def test_fed_factors_keep_full_precision():
    f = fed_translations()["fed_2025_severely_adverse"].market_factors
    assert f.default_multiplier == 10.0 / 4.1  # no longer rounded to 6 decimals
    assert f.recovery_multiplier == 214.4 / 322.1
    path = fed_translations()["fed_2025_severely_adverse"].path
    assert path.step_months == 3 and len(path.factors["default_multiplier"]) == 13
    assert path.factors["default_multiplier"][0] == 5.6 / 4.1  # 2025 Q1 unemployment 5.6


@pytest.mark.parametrize("factor", list(FACTOR_RANGES))
def test_a_factor_outside_its_range_is_refused_with_the_range_named(factor):
    lo, hi = FACTOR_RANGES[factor]
    with pytest.raises(ScenarioError) as info:
        make_scenario("too far", market_factors={factor: hi + 0.01})
    assert factor in str(info.value) and f"{lo:g} … {hi:g}" in str(info.value)
    assert make_scenario("edge", market_factors={factor: hi}).market_factors.model_dump()[factor] == hi


def test_unknown_factor_is_refused():
    with pytest.raises(ScenarioError, match="unknown market factor 'rate_shock'"):
        make_scenario("typo", market_factors={"rate_shock": 0.01})


def test_severely_adverse_translation_follows_the_stated_rule():
    # From the Board's 2025 tables: jump-off 2024 Q4 (Table 1A): 5y 4.1, unemployment 4.1,
    # HPI 322.1, BBB 5.4, 10y 4.3. Table 3A: 5y low 0.5 (2025 Q2), unemployment peak 10.0
    # (2026 Q3), HPI trough 214.4 (2026 Q3), widest BBB - 10y = 6.0 - 1.0 = 5.0 (2025 Q3).
    tr = fed_translations()["fed_2025_severely_adverse"]
    f = tr.market_factors
    assert tr.jump_off_quarter == "2024 Q4"
    assert f.interest_rate_shock == pytest.approx((0.5 - 4.1) / 100)
    assert f.default_multiplier == pytest.approx(10.0 / 4.1, abs=1e-6)
    assert f.recovery_multiplier == pytest.approx(214.4 / 322.1, abs=1e-6)
    assert f.spread_widening == pytest.approx((5.0 - 1.1) / 100)
    assert f.prepayment_multiplier == 1.0 and f.discount_rate_shock == 0.0


def test_baseline_translation_keeps_recoveries_when_house_prices_rise():
    f = fed_translations()["fed_2025_baseline"].market_factors
    assert f.recovery_multiplier == 1.0
    assert f.interest_rate_shock == pytest.approx((3.5 - 4.1) / 100)
    assert f.default_multiplier == pytest.approx(4.3 / 4.1, abs=1e-6)

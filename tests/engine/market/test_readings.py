"""Limit rules for reading: names, units and the reason's comparison (issue 13: limit reasons
read "1.21996e+06")."""

from __future__ import annotations

import math

import pytest

from engine.market.enforcement import decide
from engine.market.readings import action_words, comparison, reading, rule_label


@pytest.mark.parametrize(("rule", "value", "shown"), [
    ("var_0.99", 111_634.2, "$111,634"),
    ("var_0.999", 1.2e6, "$1,200,000"),
    ("stress_loss", 1_219_963.4, "$1,219,963"),
    ("scenario_failures", 2.0, "2"),
    ("tail_ratio", 1.24657, "1.25"),
    ("concentration", 0.0917766, "9.2%"),
    ("leverage", 2.05402, "2.05×"),
    ("liquidity", 0.0078279, "0.01 days"),
    ("volatility_spike", 0.9371, "0.94×"),
    ("drawdown", 0.2, "20.0%"),
    ("unknown_rule", 3.14159, "3.14"),
    ("stress_loss", math.nan, "–"),
])
def test_reading_in_the_rules_unit(rule, value, shown):
    assert reading(rule, value) == shown


@pytest.mark.parametrize(("rule", "name"), [
    ("var_0.95", "VaR 95%"), ("var_0.999", "VaR 99.9%"), ("stress_loss", "Worst stress loss"),
    ("some_new_rule", "Some new rule"),
])
def test_rule_label(rule, name):
    assert rule_label(rule) == name


def test_the_reason_formats_amounts_names_usd_and_keeps_the_numbers():
    d = decide(sensor="stress_failure", rule="stress_loss", metric=1_219_963.4,
               threshold=1_200_000.0, configured_action="reduce_position", mode="monitoring")
    assert d.reason == ("Worst stress loss $1,219,963 above the limit $1,200,000 (USD); "
                        "monitoring mode: warn only (would reduce position)")
    assert "e+0" not in d.reason
    assert (d.metric, d.threshold) == (1_219_963.4, 1_200_000.0)  # machine-readable, unrounded


def test_a_ratio_names_no_currency():
    assert comparison("leverage", metric=2.054, threshold=2.5) == (
        "Leverage (gross / capital) 2.05× within the limit 2.50×")
    assert action_words("reduce_position") == "reduce position"

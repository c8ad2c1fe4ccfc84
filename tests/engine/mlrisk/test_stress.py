"""Stress transformations and handbook validation."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ValidationError
from engine.mlrisk import Scenario, apply_stress, default_handbook, parse_handbook

STATS = {"mean": 4.0, "median": 3.0, "std": 2.0, "min": 0.0, "max": 10.0}


def _scenario(stress_type, **parameters):
    return Scenario(scenario_id="s", stress_type=stress_type, description="d", parameters=parameters,
                    seed=11, severity_level=3)


def test_noise_uses_scenario_seed_and_training_std():
    x = np.zeros(20000)
    a, detail = apply_stress(x, scenario=_scenario("NOISE", feature="f", std_dev_multiplier=0.5), stats=STATS)
    b, _ = apply_stress(x, scenario=_scenario("NOISE", feature="f", std_dev_multiplier=0.5), stats=STATS)
    assert detail["sigma"] == 1.0                          # 0.5 x std 2.0
    np.testing.assert_array_equal(a, b)                    # same seed, same bytes
    np.testing.assert_array_equal(a, np.random.default_rng(11).normal(0.0, 1.0, 20000))


def test_feature_shift_multiplicative_and_additive():
    x = np.array([1.0, 2.0, 4.0])
    up, _ = apply_stress(x, scenario=_scenario("FEATURE_SHIFT", feature="f", shift_percentage=0.25), stats=STATS)
    np.testing.assert_allclose(up, [1.25, 2.5, 5.0])
    add, d = apply_stress(x, scenario=_scenario("FEATURE_SHIFT", feature="f", shift_amount=-1.5), stats=STATS)
    np.testing.assert_allclose(add, [-0.5, 0.5, 2.5])
    assert d["mode"] == "additive"


@pytest.mark.parametrize(("strategy", "fill"), [("mean", 4.0), ("median", 3.0)])
def test_missingness_imputes_with_training_statistic(strategy, fill):
    x = np.full(10, 100.0)
    out, d = apply_stress(x, scenario=_scenario("MISSINGNESS", feature="f", missing_percentage=0.3, imputation=strategy),
                          stats=STATS)
    assert d["rows_changed"] == 3 and d["imputation"] == strategy
    assert np.sum(out == fill) == 3 and np.sum(out == 100.0) == 7


def test_out_of_distribution_maps_beyond_training_max():
    x = np.array([0.0, 5.0, 10.0])
    out, _ = apply_stress(x, scenario=_scenario("OUT_OF_DISTRIBUTION", feature="f", scale_factor=2.0), stats=STATS)
    np.testing.assert_allclose(out, [10.0, 15.0, 20.0])    # max + (x - min) * (2 - 1)
    part, d = apply_stress(np.arange(8.0), scenario=_scenario("OUT_OF_DISTRIBUTION", feature="f", scale_factor=1.5,
                                                     fraction=0.25), stats=STATS)
    assert d["rows_changed"] == 2 and int(np.sum(part >= 10.0)) == 2


def test_subgroup_changes_no_values():
    with pytest.raises(ValueError, match="does not transform"):
        apply_stress(np.zeros(3), scenario=_scenario("SUBGROUP", column="g", value="a"), stats=STATS)


def test_bad_handbook_collects_every_problem():
    with pytest.raises(ValidationError) as err:
        parse_handbook([
            {"scenario_id": "a", "stress_type": "EARTHQUAKE", "description": "d", "parameters": {},
             "severity_level": 2},
            {"scenario_id": "b", "stress_type": "NOISE", "description": "d", "severity_level": 6,
             "parameters": {"feature": "x", "std_dev_multiplier": -1}},
            {"scenario_id": "c", "stress_type": "MISSINGNESS", "description": "d", "severity_level": 2,
             "parameters": {"feature": "x", "missing_percentage": 1.5}},
            {"scenario_id": "d", "stress_type": "FEATURE_SHIFT", "description": "d", "severity_level": 2,
             "parameters": {"feature": "x", "shift_percentage": 0.1, "shift_amount": 3}},
        ])
    rows = [(i.row, i.column) for i in err.value.issues]
    assert (1, "stress_type") in rows
    assert (2, "severity_level") in rows and (2, "parameters") in rows
    assert (3, "parameters") in rows and (4, "parameters") in rows
    assert "std_dev_multiplier" in str(err.value) and "missing_percentage" in str(err.value)


def test_duplicate_ids_and_non_json_are_refused():
    row = {"scenario_id": "a", "stress_type": "SUBGROUP", "description": "d", "severity_level": 2,
           "parameters": {"column": "g", "value": 1}}
    with pytest.raises(ValidationError, match="appears twice"):
        parse_handbook([row, row])
    from engine.errors import InputError

    with pytest.raises(InputError, match="not valid JSON"):
        parse_handbook("{not json")


def test_default_handbook_has_the_five_stress_types_and_round_trips():
    hb = default_handbook()
    assert [s.stress_type for s in hb.scenarios] == [
        "NOISE", "FEATURE_SHIFT", "MISSINGNESS", "OUT_OF_DISTRIBUTION", "SUBGROUP"]
    assert [s.feature for s in hb.scenarios[:4]] == ["BILL_AMT1", "PAY_AMT1", "LIMIT_BAL", "BILL_AMT1"]
    assert parse_handbook(hb.to_json()) == hb

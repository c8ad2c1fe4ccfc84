"""Limits YAML: the shipped file, malformed YAML, unknown actions and bad thresholds."""

from __future__ import annotations

import pytest

from engine.errors import InputError, ValidationError
from engine.market.limits import load_default_limits, load_limits

GOOD = """
mode: gradual
limits:
  var:
    - {confidence: 0.99, max: 100, action: throttle}
  stress_loss: {max: 1000, action: reduce_position}
  scenario_failures: {max: 1, action: halt}
  tail_ratio: {max: 1.5, action: warn}
sensors:
  concentration: {max: 0.2, action: warn}
  leverage: {max: 2, action: throttle}
  liquidity: {max: 1, action: warn}
  correlation_breakdown: {max: 0.3, action: none}
  volatility_spike: {max: 2, action: throttle}
  drawdown: {max: 0.2, action: reduce_position}
  turnover: {max: 0.5, action: warn}
"""


def test_shipped_limits_load():
    cfg = load_default_limits()
    assert cfg.mode == "monitoring" and cfg.false_positive_threshold_per_week == 1.0
    assert [v.confidence for v in cfg.limits.var] == [0.95, 0.99, 0.999]


def test_text_limits_load():
    cfg = load_limits(GOOD)
    assert cfg.mode == "gradual" and cfg.limits.var[0].action == "throttle"
    assert cfg.sensors.correlation_breakdown.action == "none"


def test_malformed_yaml_names_the_line():
    with pytest.raises(InputError, match="malformed YAML at line 2, column 1"):
        load_limits("mode: full\n\tlimits: 1\n")  # a tab cannot indent YAML


def test_unknown_action_is_named_with_its_path():
    with pytest.raises(ValidationError) as err:
        load_limits(GOOD.replace("action: halt", "action: liquidate"))
    cols = [i.column for i in err.value.issues]
    assert "limits.scenario_failures.action" in cols
    assert any(i.value == "liquidate" for i in err.value.issues)


@pytest.mark.parametrize(("old", "new", "where"), [
    ("confidence: 0.99", "confidence: 1.5", "limits.var.0.confidence"),
    ("mode: gradual", "mode: yolo", "mode"),
    ("max: 0.2, action: warn}\n  leverage", "max: -1, action: warn}\n  leverage",
     "sensors.concentration.max"),
    ("  turnover: {max: 0.5, action: warn}\n", "", "sensors.turnover"),
    ("mode: gradual", "mode: gradual\nsurprise: 1", "surprise"),
])
def test_invalid_content_is_named(old, new, where):
    with pytest.raises(ValidationError) as err:
        load_limits(GOOD.replace(old, new))
    assert where in [i.column for i in err.value.issues]


def test_not_a_mapping_and_missing_file():
    with pytest.raises(ValidationError):
        load_limits("- just\n- a list\n")
    with pytest.raises(InputError, match="not found"):
        load_limits("/nonexistent/limits.yaml")

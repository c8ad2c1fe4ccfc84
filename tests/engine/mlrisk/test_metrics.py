"""ECE, classification and regression metrics against hand-computed values and scikit-learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from engine.mlrisk import classification_metrics, expected_calibration_error, regression_metrics
from engine.mlrisk._metrics import largest_subgroup_delta, regression_score, subgroup_levels


def test_ece_hand_worked_example():
    # 10 equal-width bins; occupied: bin 0 (0.05, y 0), bin 1 (0.15, y 1), bin 8 (0.85, y 1),
    # bin 9 (0.95 y 0, 0.95 y 1). ECE = (0.05 + 0.85 + 0.15 + 2 * |0.5 - 0.95|) / 5 = 0.39
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.05, 0.15, 0.85, 0.95, 0.95])
    r = expected_calibration_error(y, y_prob=p)
    assert r.ece == pytest.approx(0.39, abs=1e-12)
    assert r.n_empty_bins == 6
    assert r.bin_counts == [1, 1, 1, 2]
    assert r.strategy == "uniform" and r.n_bins == 10


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_ece_equals_reconstruction_from_calibration_curve(strategy):
    rng = np.random.default_rng(7)
    p = rng.beta(2, 5, 2000)
    y = (rng.uniform(size=p.size) < p ** 0.8).astype(int)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy=strategy)
    edges = np.linspace(0, 1, 11) if strategy == "uniform" else np.percentile(p, np.linspace(0, 100, 11))
    counts = np.histogram(p, bins=edges)[0]  # continuous p: no value sits on an inner edge
    counts = counts[counts > 0]
    reconstructed = float(np.sum(counts / p.size * np.abs(prob_true - prob_pred)))
    r = expected_calibration_error(y, y_prob=p, n_bins=10, strategy=strategy)
    assert r.bin_counts == counts.tolist()
    assert r.ece == pytest.approx(reconstructed, rel=1e-12)
    np.testing.assert_allclose(r.bin_accuracy, prob_true)
    np.testing.assert_allclose(r.bin_confidence, prob_pred)


def test_ece_bins_are_right_closed_like_sklearn():
    # 0.1 exactly belongs to the first bin (searchsorted side="left" on the inner edges)
    r = expected_calibration_error(np.array([1, 0]), y_prob=np.array([0.1, 0.1]))
    assert r.bin_counts == [2]
    assert r.bin_edges[1] == pytest.approx(0.1)
    assert r.ece == pytest.approx(abs(0.5 - 0.1))


def test_ece_rejects_probabilities_outside_unit_interval():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        expected_calibration_error(np.array([0, 1]), y_prob=np.array([0.2, 1.2]))


def test_classification_metrics_hand_values():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.1, 0.9, 0.8, 0.3])
    m, _ = classification_metrics(y, y_prob=p)
    assert m["AUC"] == 1.0
    assert m["accuracy"] == 1.0
    assert m["Brier"] == pytest.approx((0.01 + 0.01 + 0.04 + 0.09) / 4)
    assert m["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.9) + math.log(0.8) + math.log(0.7)) / 4)


def test_auc_is_none_with_one_class():
    m, _ = classification_metrics(np.array([1, 1, 1]), y_prob=np.array([0.2, 0.6, 0.9]))
    assert m["AUC"] is None
    assert m["accuracy"] == pytest.approx(2 / 3)


def test_regression_metrics_hand_values():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.0, 2.0, 5.0, 4.0])
    m, ece = regression_metrics(y, pred=pred, median=2.5, low=1.0, high=5.0)
    assert m["RMSE"] == pytest.approx(math.sqrt(4 / 4))
    assert m["MAE"] == pytest.approx(0.5)
    assert m["R2"] == pytest.approx(1 - 4 / 5)
    # scores 0, .25, 1, .75 against above-median 0, 0, 1, 1 -> bins 0, 2, 9, 7:
    # (0 + .25 + 0 + .25) / 4 = 0.125
    assert m["ECE"] == pytest.approx(0.125)
    assert ece.n_empty_bins == 6


def test_regression_score_is_clipped_to_baseline_range():
    np.testing.assert_allclose(regression_score(np.array([-1.0, 0.0, 5.0, 20.0]), low=0.0, high=10.0),
                               [0.0, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(regression_score(np.array([3.0]), low=2.0, high=2.0), [0.5])


def test_subgroup_levels_quartiles_for_many_values():
    import pandas as pd

    age = pd.Series(np.arange(100))
    labels = subgroup_levels(age)
    assert labels.nunique() == 4
    assert (labels.value_counts() == 25).all()
    small = subgroup_levels(pd.Series([1.0, 2.0, np.nan]))
    assert small.tolist() == ["1", "2", "missing"]


def test_largest_subgroup_delta_picks_biggest_absolute_gap():
    rows = [
        {"column": "g", "level": "a", "metrics": {"AUC": 0.70}},
        {"column": "g", "level": "b", "metrics": {"AUC": 0.85}},
        {"column": "g", "level": "c", "metrics": None},
    ]
    d = largest_subgroup_delta(rows, overall={"AUC": 0.78}, metric="AUC")
    assert d["value"] == pytest.approx(0.08)
    assert (d["column"], d["level"]) == ("g", "a")

"""Tables the pages show are read from stored results without recomputation."""

from __future__ import annotations

import numpy as np

from engine.mlrisk import ValidationConfig, run_validation
from engine.mlrisk._views import chart_rows, distribution, drift_table, subgroup_matrix


def test_views_reflect_stored_results(synthetic_frame, synthetic_handbook):
    cfg = ValidationConfig(target="y", subgroups=["region"], model="logistic_regression", seed=5, min_subgroup_rows=20)
    run = run_validation(cfg, frame=synthetic_frame, data_name="s.csv", data_bytes=b"s", handbook=synthetic_handbook)
    m = subgroup_matrix(run.results, "AUC")
    assert list(m.index) == ["baseline", "noise_x1", "shift_x2", "missing_x1", "ood_x2", "south"]
    assert list(m.columns) == ["region=north", "region=south"]
    north = next(g for g in run.results["baseline"]["subgroups"] if g["level"] == "north")
    assert m.loc["baseline", "region=north"] == north["metrics"]["AUC"]
    assert np.isnan(m.loc["south", "region=north"])  # the south slice has no north rows
    d = drift_table(run.results)
    assert d["scenario_id"].tolist() == ["noise_x1", "shift_x2", "missing_x1", "ood_x2"]
    h = distribution(run.results, scenario_id="ood_x2", feature="x2")
    assert h["before"].sum() == h["after"].sum() == run.results["data"]["n_test"]
    assert chart_rows(run.rows, "AUC")["scenario_id"].tolist() == d["scenario_id"].tolist() + ["south"]

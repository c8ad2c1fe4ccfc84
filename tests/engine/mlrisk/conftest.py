"""Seeded data fixtures for the mlrisk tests: a small synthetic table (fast) and a tiny config.

Every test runs with ``STRESSLAB_KEYS`` pointing at an empty folder of its own (no signing key:
evidence unsigned unless the test creates keys there) and ``STRESSLAB_DB`` at a store of its own,
so no test reads or writes the user's keys or store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def own_keys_and_store(tmp_path_factory, monkeypatch):
    """An empty key directory and a store path of the test's own (neither exists yet)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("STRESSLAB_KEYS", str(home / "keys"))
    monkeypatch.setenv("STRESSLAB_DB", str(home / "store.duckdb"))
    return home


@pytest.fixture(scope="session")
def synthetic_frame() -> pd.DataFrame:
    """600 rows: two numeric features, one text category, a subgroup column and a 0/1 target
    that depends on x1 and the category."""
    rng = np.random.default_rng(0)
    n = 600
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.uniform(0.0, 10.0, n)
    cat = rng.choice(["a", "b", "c"], n)
    region = rng.choice(["north", "south"], n, p=[0.7, 0.3])
    logit = 1.5 * x1 + (cat == "a") * 1.0 - 0.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "cat": cat, "region": region, "y": y})


@pytest.fixture(scope="session")
def synthetic_handbook():
    from engine.mlrisk import parse_handbook

    return parse_handbook([
        {"scenario_id": "noise_x1", "stress_type": "NOISE", "description": "noise", "seed": 1,
         "severity_level": 2, "parameters": {"feature": "x1", "std_dev_multiplier": 1.0}},
        {"scenario_id": "shift_x2", "stress_type": "FEATURE_SHIFT", "description": "shift", "seed": 2,
         "severity_level": 3, "parameters": {"feature": "x2", "shift_amount": 5.0}},
        {"scenario_id": "missing_x1", "stress_type": "MISSINGNESS", "description": "missing", "seed": 3,
         "severity_level": 2, "parameters": {"feature": "x1", "missing_percentage": 0.5, "imputation": "mean"}},
        {"scenario_id": "ood_x2", "stress_type": "OUT_OF_DISTRIBUTION", "description": "ood", "seed": 4,
         "severity_level": 4, "parameters": {"feature": "x2", "scale_factor": 2.0}},
        {"scenario_id": "south", "stress_type": "SUBGROUP", "description": "south", "seed": 5,
         "severity_level": 3, "parameters": {"column": "region", "value": "south"}},
    ])

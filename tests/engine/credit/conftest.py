"""Small hand-made pools for the credit engine tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.credit import ASSET_COLUMNS, LoanArrays, PoolData


def make_frame(**columns) -> pd.DataFrame:
    """A canonical asset frame; unspecified columns get neutral values (no default, no prepay)."""
    n = len(next(iter(columns.values())))
    base = {
        "asset_id": [f"L{i + 1}" for i in range(n)],
        "asset_class": ["consumer_loan"] * n,
        "balance": [1000.0] * n,
        "rate": [0.06] * n,
        "term": [12] * n,
        "age": [0] * n,
        "original_balance": [np.nan] * n,
        "rate_type": ["fixed"] * n,
        "prepayment_speed": [0.0] * n,
        "default_probability": [0.0] * n,
        "recovery_rate": [0.4] * n,
        "loss_severity": [0.6] * n,
        "status": ["performing"] * n,
        "grade": [pd.NA] * n,
        "recovery_lag": [3] * n,
    }
    base.update(columns)
    if "recovery_rate" in columns and "loss_severity" not in columns:
        base["loss_severity"] = [1 - r for r in columns["recovery_rate"]]
    return pd.DataFrame(base).astype(ASSET_COLUMNS)


def make_pool(name: str = "test pool", **columns) -> PoolData:
    return PoolData(pool_id=name.replace(" ", "-"), pool_name=name, frame=make_frame(**columns))


def arrays(**columns) -> LoanArrays:
    return LoanArrays.from_frame(make_frame(**columns))


@pytest.fixture()
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)

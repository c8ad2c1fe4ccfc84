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


#: Recovery lag (months) by asset class in the synthetic pools.
SYNTHETIC_LAGS = {"residential_mortgage": 18, "auto_loan": 3, "consumer_loan": 6, "sme_loan": 12}


def synthetic_pool(n: int, *, seed: int = 20261121) -> PoolData:
    """A seeded pool of ``n`` loans of every status, fixed and floating, 12 to 120 months.

    Built directly as canonical columns (no tape, no validation), so 300,000 loans take well
    under a second.
    """
    rng = np.random.default_rng(seed)
    classes = np.array(list(SYNTHETIC_LAGS))
    cls = classes[rng.integers(0, len(classes), n)]
    term = rng.integers(12, 121, n)
    age = (rng.random(n) * (term - 1)).astype(np.int64)
    recovery = rng.uniform(0.1, 0.7, n)
    status = rng.choice(np.array(["performing", "delinquent", "default", "paid_off"]), n,
                        p=[0.9, 0.05, 0.03, 0.02])
    frame = pd.DataFrame({
        "asset_id": [f"L{i:07d}" for i in range(n)],
        "asset_class": cls,
        "balance": rng.uniform(1_000.0, 400_000.0, n),
        "rate": rng.uniform(0.0, 0.15, n),
        "term": term,
        "age": age,
        "original_balance": np.nan,
        "rate_type": np.where(rng.random(n) < 0.2, "floating", "fixed"),
        "prepayment_speed": rng.uniform(0.0, 0.3, n),
        "default_probability": rng.uniform(0.0, 0.1, n),
        "recovery_rate": recovery,
        "loss_severity": 1.0 - recovery,
        "status": status,
        "grade": pd.NA,
        "recovery_lag": pd.Series(cls).map(SYNTHETIC_LAGS).to_numpy(),
    }).astype(ASSET_COLUMNS)
    return PoolData(pool_id=f"synthetic-{n}", pool_name=f"synthetic {n:,} loans", frame=frame)


@pytest.fixture(scope="session")
def pool_300k() -> PoolData:
    """300,000 seeded synthetic loans: six chunks of the runner's 50,000."""
    return synthetic_pool(300_000)

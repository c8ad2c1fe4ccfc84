"""Summary statistics of a pool, for the pools page and reports."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from engine.credit.models import PoolData

__all__ = ["pool_summary", "pool_breakdown"]


def pool_summary(pool: PoolData) -> dict[str, Any]:
    """Count, balance and balance-weighted averages of a pool (paid-off loans excluded from the
    averages, which weight by current balance).

    Returns
    -------
    dict
        ``n_assets``, ``n_active`` (balance > 0 and not paid off), ``total_balance`` (currency),
        ``weighted_average_coupon`` (annual decimal), ``weighted_average_remaining_term``
        (months), ``weighted_average_age`` (months), ``weighted_average_cpr``,
        ``weighted_average_cdr`` (annual decimals), ``weighted_average_recovery_rate``.
        Averages are NaN for a pool with no active balance.
    """
    f = pool.frame
    active = (f["status"] != "paid_off") & (f["balance"] > 0)
    w = f["balance"].where(active, 0.0).to_numpy(dtype=np.float64)
    total = float(w.sum())

    def wavg(col: pd.Series) -> float:
        return float(np.dot(col.to_numpy(dtype=np.float64), w) / total) if total > 0 else float("nan")

    return {
        "n_assets": int(len(f)),
        "n_active": int(active.sum()),
        "total_balance": float(f["balance"].sum()),
        "weighted_average_coupon": wavg(f["rate"]),
        "weighted_average_remaining_term": wavg(f["term"] - f["age"]),
        "weighted_average_age": wavg(f["age"]),
        "weighted_average_cpr": wavg(f["prepayment_speed"]),
        "weighted_average_cdr": wavg(f["default_probability"]),
        "weighted_average_recovery_rate": wavg(f["recovery_rate"]),
    }


def pool_breakdown(pool: PoolData, by: str) -> pd.DataFrame:
    """Loans and balance split by ``by`` (asset_class, grade, status, rate_type, term).

    Returns
    -------
    DataFrame
        Columns ``by``, ``n_assets``, ``balance``, ``balance_share`` (decimal), sorted by ``by``;
        a missing value is shown as "(none)".
    """
    f = pool.frame
    key = f[by].astype("string").fillna("(none)")
    out = (f.assign(_k=key).groupby("_k", sort=True)
           .agg(n_assets=("asset_id", "size"), balance=("balance", "sum"))
           .reset_index().rename(columns={"_k": by}))
    total = out["balance"].sum()
    out["balance_share"] = out["balance"] / total if total > 0 else np.nan
    return out

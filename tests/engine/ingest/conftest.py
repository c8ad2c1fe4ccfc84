"""Fixtures for the ingest tests: a small hand-checkable native pool."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[3]
LC_TAPE = ROOT / "data" / "lendingclub_2018q1" / "loans_full_schema.csv.gz"


@pytest.fixture
def native_frame() -> pd.DataFrame:
    """Three loans, every canonical field given (nothing to fill)."""
    return pd.DataFrame({
        "asset_id": ["M-1", "A-2", "C-3"],
        "asset_class": ["residential_mortgage", "auto_loan", "credit_card"],
        "balance": [200_000.0, 15_000.0, 0.0],
        "rate": [0.045, 0.069, 0.199],
        "term": [360, 60, 24],
        "age": [12, 6, 3],
        "original_balance": [210_000.0, 20_000.0, 5_000.0],
        "rate_type": ["fixed", "floating", "fixed"],
        "prepayment_speed": [0.06, 0.15, 0.2],
        "default_probability": [0.01, 0.03, 0.05],
        "recovery_rate": [0.7, 0.5, 0.1],
        "loss_severity": [0.3, 0.5, 0.9],
        "status": ["performing", "delinquent", "paid_off"],
        "grade": [None, "B", None],
        "recovery_lag": [18, 3, 6],
    })


@pytest.fixture(scope="session")
def lc_tape_path() -> Path:
    """The bundled Lending Club tape (data/lendingclub_2018q1, see its PROVENANCE.md)."""
    return LC_TAPE

"""Credit pool stress testing: cashflows, metrics, scenarios and the stress runner.

Names load on first use (PEP 562), so ``import engine.credit.cli`` (and ``stresslab --help``)
does not import numba, pandas or pydantic models it does not need.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "ASSET_COLUMNS": "engine.credit.models",
    "Asset": "engine.credit.models",
    "AssetClass": "engine.credit.models",
    "AssetStatus": "engine.credit.models",
    "Pool": "engine.credit.models",
    "PoolData": "engine.credit.models",
    "RateType": "engine.credit.models",
    "LOAN_FIELDS": "engine.credit._cashflows",
    "POOL_FIELDS": "engine.credit._cashflows",
    "LoanArrays": "engine.credit._cashflows",
    "discount_factors": "engine.credit._cashflows",
    "loan_paths": "engine.credit._cashflows",
    "monthly_rate": "engine.credit._cashflows",
    "project": "engine.credit._cashflows",
    "scheduled_balance_fraction": "engine.credit._cashflows",
    "METRIC_KEYS": "engine.credit._metrics",
    "irr": "engine.credit._metrics",
    "pool_cashflow": "engine.credit._metrics",
    "pool_metrics": "engine.credit._metrics",
    "CASHFLOW_COLUMNS": "engine.credit._runner",
    "AnalysisRequest": "engine.credit._runner",
    "MemoryCache": "engine.credit._runner",
    "ResultCache": "engine.credit._runner",
    "ScenarioResult": "engine.credit._runner",
    "ScenarioSpec": "engine.credit._runner",
    "StressTestRequest": "engine.credit._runner",
    "StressTestResult": "engine.credit._runner",
    "discount_yield": "engine.credit._runner",
    "run_stress_test": "engine.credit._runner",
    "FACTOR_HELP": "engine.credit._scenarios",
    "FACTOR_RANGES": "engine.credit._scenarios",
    "FED_RULE": "engine.credit._scenarios",
    "PREDEFINED_SCENARIOS": "engine.credit._scenarios",
    "FedTranslation": "engine.credit._scenarios",
    "MarketFactors": "engine.credit._scenarios",
    "Scenario": "engine.credit._scenarios",
    "builtin_scenarios": "engine.credit._scenarios",
    "fed_scenarios": "engine.credit._scenarios",
    "fed_translations": "engine.credit._scenarios",
    "make_scenario": "engine.credit._scenarios",
    "pool_summary": "engine.credit._summary",
    "pool_breakdown": "engine.credit._summary",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'engine.credit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)

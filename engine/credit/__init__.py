"""Credit pool stress testing: cashflows, metrics, scenarios, the stress runner and the
workflows (:mod:`engine.credit.workflow`) the front ends call.

Names load on first use (PEP 562), so ``import engine.credit.cli`` (and ``stresslab --help``)
does not import numba, pandas or pydantic models it does not need. The workflow functions that
share a name with a pool-level helper (``read_pool``, ``detect_format``, ``save_pool``,
``pool_summary``, ``pool_breakdown``) are reached as ``engine.credit.workflow.<name>``.
"""

from __future__ import annotations

from engine._lazy import lazy_exports

_LAZY: dict[str, str] = {
    # the pool (owned by engine.ingest.models) and the stress-test models
    "ASSET_COLUMNS": "engine.credit.models",
    "Asset": "engine.credit.models",
    "AssetClass": "engine.credit.models",
    "AssetStatus": "engine.credit.models",
    "Pool": "engine.credit.models",
    "PoolData": "engine.credit.models",
    "RateType": "engine.credit.models",
    "CASHFLOW_COLUMNS": "engine.credit.models",
    "AnalysisRequest": "engine.credit.models",
    "ScenarioResult": "engine.credit.models",
    "ScenarioSpec": "engine.credit.models",
    "StressTestRequest": "engine.credit.models",
    "StressTestResult": "engine.credit.models",
    # computation
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
    "MemoryCache": "engine.credit._cache",
    "ResultCache": "engine.credit._cache",
    "cache_key": "engine.credit._cache",
    "CHUNK_SIZE": "engine.credit._runner",
    "discount_yield": "engine.credit._runner",
    "execute_run": "engine.credit._runner",
    "prepare_run": "engine.credit._runner",
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
    "CustomScenario": "engine.credit._scenarios",
    "RESERVED_KEYS": "engine.credit._scenarios",
    "check_custom_key": "engine.credit._scenarios",
    "parse_custom_scenarios": "engine.credit._scenarios",
    # summaries of an in-memory pool (the workflow's pool_summary / pool_breakdown take an id)
    "pool_summary": "engine.credit._summary",
    "pool_breakdown": "engine.credit._summary",
    # the workflows (engine.credit.workflow): what the CLI, the pages and the API call
    "ImportPoolRequest": "engine.credit.workflow",
    "PoolImported": "engine.credit.workflow",
    "StressRunRequest": "engine.credit.workflow",
    "StressRun": "engine.credit.workflow",
    "import_pool": "engine.credit.workflow",
    "list_pools": "engine.credit.workflow",
    "load_pool": "engine.credit.workflow",
    "delete_pool": "engine.credit.workflow",
    "assumption_table": "engine.credit.workflow",
    "scenario_library": "engine.credit.workflow",
    "custom_scenarios": "engine.credit.workflow",
    "save_scenario": "engine.credit.workflow",
    "duplicate_scenario": "engine.credit.workflow",
    "delete_scenario": "engine.credit.workflow",
    "import_scenarios": "engine.credit.workflow",
    "run_stress": "engine.credit.workflow",
    "load_run": "engine.credit.workflow",
    "list_runs": "engine.credit.workflow",
    "count_runs": "engine.credit.workflow",
    "loan_path": "engine.credit.workflow",
    "TreasuryCurveView": "engine.credit.workflow",
    "treasury_curve": "engine.credit.workflow",
    "curve_dates": "engine.credit.workflow",
    "seed_store": "engine.credit.workflow",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

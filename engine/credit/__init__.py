"""Credit pool stress testing: cashflows, metrics, scenarios and the stress runner."""

from engine.credit._cashflows import (
    LOAN_FIELDS,
    POOL_FIELDS,
    LoanArrays,
    discount_factors,
    loan_paths,
    monthly_rate,
    project,
    scheduled_balance_fraction,
)
from engine.credit._metrics import METRIC_KEYS, irr, pool_cashflow, pool_metrics
from engine.credit._runner import (
    CASHFLOW_COLUMNS,
    AnalysisRequest,
    MemoryCache,
    ResultCache,
    ScenarioResult,
    ScenarioSpec,
    StressTestRequest,
    StressTestResult,
    discount_yield,
    run_stress_test,
)
from engine.credit._scenarios import (
    FACTOR_HELP,
    FACTOR_RANGES,
    FED_RULE,
    PREDEFINED_SCENARIOS,
    FedTranslation,
    MarketFactors,
    Scenario,
    builtin_scenarios,
    fed_scenarios,
    fed_translations,
    make_scenario,
)
from engine.credit._summary import pool_breakdown, pool_summary
from engine.credit.models import ASSET_COLUMNS, Asset, AssetClass, AssetStatus, Pool, PoolData, RateType

__all__ = [
    "ASSET_COLUMNS", "Asset", "AssetClass", "AssetStatus", "Pool", "PoolData", "RateType",
    "LOAN_FIELDS", "POOL_FIELDS", "LoanArrays", "discount_factors", "loan_paths", "monthly_rate",
    "project", "scheduled_balance_fraction",
    "METRIC_KEYS", "irr", "pool_cashflow", "pool_metrics",
    "CASHFLOW_COLUMNS", "AnalysisRequest", "MemoryCache", "ResultCache", "ScenarioResult",
    "ScenarioSpec", "StressTestRequest", "StressTestResult", "discount_yield", "run_stress_test",
    "FACTOR_HELP", "FACTOR_RANGES", "FED_RULE", "PREDEFINED_SCENARIOS", "FedTranslation",
    "MarketFactors", "Scenario", "builtin_scenarios", "fed_scenarios", "fed_translations",
    "make_scenario", "pool_summary", "pool_breakdown",
]

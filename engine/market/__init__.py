"""Market risk: VaR and ES, backtests, stress replay, limits, enforcement and its audit trail.

Conventions (ARCHITECTURE.md, "Market risk conventions"): simple returns, loss positive,
historical VaR = the ``ceil(c * n)``-th smallest loss, ES = mean of the losses at or beyond VaR.
Heavy modules are imported lazily by the CLI; importing this package loads numpy, pandas and
pydantic only.
"""

from engine.market.backtest import (
    BacktestResult,
    BacktestRun,
    TrafficLight,
    backtest,
    christoffersen,
    kupiec_pof,
    rolling_var,
    traffic_light,
)
from engine.market.data_io import (
    load_bundled_prices,
    load_default_positions,
    position_values,
    read_positions_csv,
    read_prices_csv,
    simple_returns,
    validate_positions,
    validate_prices,
)
from engine.market.enforcement import Decision, Evaluation, decide, evaluate
from engine.market.limits import LimitsConfig, load_default_limits, load_limits, parse_limits
from engine.market.sensors import (
    SENSORS,
    RiskSnapshot,
    SensorStatus,
    compute_snapshot,
    sensor_status,
)
from engine.market.stress import PREDEFINED_WINDOWS, StressResult, StressWindow, replay, replay_all
from engine.market.var import (
    METHODS,
    VaRReport,
    compare_methods,
    cornish_fisher_es,
    cornish_fisher_var,
    historical_es,
    historical_var,
    monte_carlo_losses,
    parametric_es,
    parametric_var,
    portfolio_losses,
)

__all__ = [
    "METHODS", "PREDEFINED_WINDOWS", "SENSORS",
    "BacktestResult", "BacktestRun", "Decision", "Evaluation", "LimitsConfig", "RiskSnapshot",
    "SensorStatus", "StressResult", "StressWindow", "TrafficLight", "VaRReport",
    "backtest", "christoffersen", "compare_methods", "compute_snapshot", "cornish_fisher_es",
    "cornish_fisher_var", "decide", "evaluate", "historical_es", "historical_var", "kupiec_pof",
    "load_bundled_prices", "load_default_limits", "load_default_positions", "load_limits",
    "monte_carlo_losses", "parametric_es", "parametric_var", "parse_limits", "portfolio_losses",
    "position_values", "read_positions_csv", "read_prices_csv", "replay", "replay_all",
    "rolling_var", "sensor_status", "simple_returns", "traffic_light", "validate_positions",
    "validate_prices",
]
